import Foundation
import PostgresNIO

extension PostgresStore {
    public func ruleStates(dryRun: Bool) async throws -> [RuleStateRow] {
        try await withConnection("read rule states") { connection in
            try await rows(
                """
                SELECT rule, tuid, state, updated_at FROM rule_state WHERE dry_run = \(dryRun) ORDER BY rule, tuid
                """, on: connection
            ).map { row in
                RuleStateRow(
                    rule: try row[0].decode(String.self), tuid: try row[1].decode(String.self), dryRun: dryRun,
                    state: try row[2].decode(Data.self), updatedAt: try row[3].decode(Int64.self))
            }
        }
    }

    public func devices(dryRun: Bool) async throws -> [DeviceRow] {
        try await withConnection("read device cursors") { connection in
            try await rows(
                """
                SELECT tuid, cursor_ts, observations, updated_at FROM devices WHERE dry_run = \(dryRun) ORDER BY tuid
                """, on: connection
            ).map { row in
                DeviceRow(
                    tuid: try row[0].decode(String.self), dryRun: dryRun, cursorTs: try row[1].decode(Int64?.self),
                    observations: try row[2].decode(Data?.self), updatedAt: try row[3].decode(Int64.self))
            }
        }
    }

    public func saveState(ruleStates: [RuleStateRow], devices: [DeviceRow]) async throws {
        let now = now()
        try await transaction("save rule states and cursors") { connection in
            var ruleStates = ruleStates
            var devices = devices
            // A device taken over meanwhile keeps what its new owner writes.
            if let held = try await fencedDevices(
                Set(ruleStates.map(\.tuid) + devices.map(\.tuid)), on: connection)
            {
                ruleStates.removeAll { !held.contains($0.tuid) }
                devices.removeAll { !held.contains($0.tuid) }
            }
            try await saveRows(ruleStates: ruleStates, devices: devices, now: now, on: connection)
        }
    }

    /// Upserts in multi-row statements (500 rows each); a key given twice keeps its last row, as a sequence of
    /// single-row upserts would.
    func saveRows(
        ruleStates: [RuleStateRow], devices: [DeviceRow], now: Int64, on connection: PostgresConnection
    ) async throws {
        try await upsert(
            ruleStates, key: { "\($0.rule)\u{0}\($0.tuid)\u{0}\($0.dryRun)" },
            into: "rule_state (rule, tuid, dry_run, state, updated_at)",
            onConflict: "(rule, tuid, dry_run) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            on: connection
        ) { row, binds in
            binds.append(row.rule)
            binds.append(row.tuid)
            binds.append(row.dryRun)
            try binds.append(row.state)
            binds.append(row.updatedAt ?? now)
        }
        try await upsert(
            devices, key: { "\($0.tuid)\u{0}\($0.dryRun)" },
            into: "devices (tuid, dry_run, cursor_ts, observations, updated_at)",
            onConflict: """
                (tuid, dry_run) DO UPDATE SET cursor_ts = excluded.cursor_ts,
                    observations = excluded.observations, updated_at = excluded.updated_at
                """,
            on: connection
        ) { row, binds in
            binds.append(row.tuid)
            binds.append(row.dryRun)
            binds.append(row.cursorTs)
            try binds.append(row.observations)
            binds.append(row.updatedAt ?? now)
        }
    }

    /// `INSERT INTO <into> VALUES … ON CONFLICT <onConflict>` for `rows`, 500 to a statement, each row's values
    /// appended by `bind` (the same number for every row). Rows with the same `key` collapse to the last one, in the
    /// position of the first: one statement may not update a row twice.
    private func upsert<Row>(
        _ rows: [Row], key: (Row) -> String, into target: String, onConflict conflict: String,
        on connection: PostgresConnection, bind: (Row, inout PostgresBindings) throws -> Void
    ) async throws {
        var latest: [String: Row] = [:]
        var order: [String] = []
        for row in rows {
            let k = key(row)
            if latest.updateValue(row, forKey: k) == nil { order.append(k) }
        }
        for start in stride(from: 0, to: order.count, by: 500) {
            var binds = PostgresBindings()
            var tuples: [String] = []
            for key in order[start..<min(start + 500, order.count)] {
                let first = binds.count + 1
                try bind(latest[key]!, &binds)
                tuples.append("(" + (first...binds.count).map { "$\($0)" }.joined(separator: ", ") + ")")
            }
            try await run(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO \(target)
                        VALUES \(tuples.joined(separator: ", "))
                        ON CONFLICT \(conflict)
                        """, binds: binds), on: connection)
        }
    }

    public func resetCursors(dryRun: Bool) async throws {
        try await withConnection("reset device cursors") { connection in
            try await run("DELETE FROM devices WHERE dry_run = \(dryRun)", on: connection)
        }
    }

    public func newestCursor(dryRun: Bool) async throws -> Int64? {
        try await withConnection("read the newest cursor") { connection in
            try await rows("SELECT max(cursor_ts) FROM devices WHERE dry_run = \(dryRun)", on: connection)
                .first?[0].decode(Int64?.self) ?? nil
        }
    }

    // MARK: Cycles

    public func beginCycle(startedAt: Int64, dryRun: Bool) async throws -> Int64 {
        try await withConnection("begin a cycle") { connection in
            try await rows(
                "INSERT INTO cycles (started_at, dry_run) VALUES (\(startedAt), \(dryRun)) RETURNING id",
                on: connection
            )[0][0].decode(Int64.self)
        }
    }

    public func finishCycle(id: Int64, summary: CycleSummary) async throws {
        let changed = try await withConnection("finish cycle \(id)") { connection in
            try await rows(
                """
                UPDATE cycles SET finished_at = \(summary.finishedAt), devices = \(summary.devices),
                    messages = \(summary.messages), firings = \(summary.firings), actions = \(summary.actions),
                    errors = \(summary.errors), duration_ms = \(summary.durationMilliseconds)
                WHERE id = \(id) RETURNING id
                """, on: connection
            ).count
        }
        if changed == 0 {
            throw StoreError(
                kind: .noSuchRow(table: "cycles", id: id), code: StoreError.Code.notFound,
                message: "no cycle with id \(id)", operation: "finish cycle \(id)")
        }
    }

    public func cycles(limit: Int) async throws -> [CycleRecord] {
        try await withConnection("read cycles") { connection in
            try await rows(
                """
                SELECT id, started_at, dry_run, finished_at, devices, messages, firings, actions, errors, duration_ms
                FROM cycles ORDER BY id DESC LIMIT \(Int64(max(0, limit)))
                """, on: connection
            ).map { row in
                let summary = try row[3].decode(Int64?.self).map { finishedAt in
                    CycleSummary(
                        finishedAt: finishedAt, devices: try row[4].decode(Int.self),
                        messages: try row[5].decode(Int.self), firings: try row[6].decode(Int.self),
                        actions: try row[7].decode(Int.self), errors: try row[8].decode(Int.self),
                        durationMilliseconds: try row[9].decode(Int64.self))
                }
                return CycleRecord(
                    id: try row[0].decode(Int64.self), startedAt: try row[1].decode(Int64.self),
                    dryRun: try row[2].decode(Bool.self), summary: summary)
            }
        }
    }

    // MARK: Identity

    public func deploymentIdentity() async throws -> DeploymentIdentity? {
        try await withConnection("read the deployment identity") { connection in
            try await identity(on: connection)
        }
    }

    public func claimDeployment(_ identity: DeploymentIdentity) async throws -> DeploymentIdentity {
        try await transaction("record the deployment identity") { connection in
            // Two processes claiming at once: the second waits for the first's row, then finds it.
            try await run("LOCK TABLE meta IN SHARE ROW EXCLUSIVE MODE", on: connection)
            if let existing = try await self.identity(on: connection) { return existing }
            try await run(
                """
                INSERT INTO meta (key, value) VALUES ('base_url', \(identity.baseURL)), ('client_id', \(identity.clientID))
                """, on: connection)
            return identity
        }
    }

    private func identity(on connection: PostgresConnection) async throws -> DeploymentIdentity? {
        var map: [String: String] = [:]
        for row in try await rows(
            "SELECT key, value FROM meta WHERE key IN ('base_url', 'client_id')", on: connection)
        {
            map[try row[0].decode(String.self)] = try row[1].decode(String.self)
        }
        guard let url = map["base_url"], let id = map["client_id"] else { return nil }
        return DeploymentIdentity(baseURL: url, clientID: id)
    }
}
