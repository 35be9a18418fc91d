import CSQLite3

extension SQLiteStore {
    /// Starts a cycle's row; returns its id for ``finishCycle(id:summary:)``.
    public func beginCycle(startedAt: Int64, dryRun: Bool) throws -> Int64 {
        try database.run(
            "INSERT INTO cycles (started_at, dry_run) VALUES (?, ?)", [.integer(startedAt), .integer(dryRun ? 1 : 0)])
        return database.lastInsertRowID
    }

    /// Records what a cycle did.
    public func finishCycle(id: Int64, summary: CycleSummary) throws {
        try database.run(
            """
            UPDATE cycles SET finished_at = ?, devices = ?, messages = ?, firings = ?, actions = ?, errors = ?,
                duration_ms = ?
            WHERE id = ?
            """,
            [
                .integer(summary.finishedAt), .integer(Int64(summary.devices)), .integer(Int64(summary.messages)),
                .integer(Int64(summary.firings)), .integer(Int64(summary.actions)), .integer(Int64(summary.errors)),
                .integer(summary.durationMilliseconds), .integer(id),
            ])
        if database.changes == 0 {
            throw StoreError(
                kind: .noSuchRow(table: "cycles", id: id), code: SQLITE_NOTFOUND, message: "no cycle with id \(id)",
                operation: "finish cycle \(id)")
        }
    }

    /// Recent cycles, newest first.
    public func cycles(limit: Int) throws -> [CycleRecord] {
        try database.query(
            """
            SELECT id, started_at, dry_run, finished_at, devices, messages, firings, actions, errors, duration_ms
            FROM cycles ORDER BY id DESC LIMIT ?
            """, [.integer(Int64(limit))]
        ) { row in
            let summary = row.optionalInt64(at: 3).map { finishedAt in
                CycleSummary(
                    finishedAt: finishedAt, devices: row.int(at: 4), messages: row.int(at: 5), firings: row.int(at: 6),
                    actions: row.int(at: 7), errors: row.int(at: 8), durationMilliseconds: row.int64(at: 9))
            }
            return CycleRecord(
                id: row.int64(at: 0), startedAt: row.int64(at: 1), dryRun: row.bool(at: 2), summary: summary)
        }
    }
}
