import Foundation

extension SQLiteStore {
    /// Saved rule state machines, live or dry-run.
    public func ruleStates(dryRun: Bool) throws -> [RuleStateRow] {
        try database.query(
            "SELECT rule, tuid, state, updated_at FROM rule_state WHERE dry_run = ? ORDER BY rule, tuid",
            [.integer(dryRun ? 1 : 0)]
        ) { Self.ruleState($0, dryRun: dryRun) }
    }

    /// Folds the saved rule states row by row, as SQLite steps to them: none held beyond its turn.
    public func foldRuleStates<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, RuleStateRow) -> Void
    ) throws -> Result {
        var result = initial
        try database.forEach(
            "SELECT rule, tuid, state, updated_at FROM rule_state WHERE dry_run = ? ORDER BY tuid, rule",
            [.integer(dryRun ? 1 : 0)]
        ) { next(&result, Self.ruleState($0, dryRun: dryRun)) }
        return result
    }

    /// Saved device cursors and observation snapshots, live or dry-run.
    public func devices(dryRun: Bool) throws -> [DeviceRow] {
        try database.query(Self.devicesQuery, [.integer(dryRun ? 1 : 0)]) { Self.device($0, dryRun: dryRun) }
    }

    /// Folds the saved device rows row by row, as SQLite steps to them.
    public func foldDevices<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, DeviceRow) -> Void
    ) throws -> Result {
        var result = initial
        try database.forEach(Self.devicesQuery, [.integer(dryRun ? 1 : 0)]) {
            next(&result, Self.device($0, dryRun: dryRun))
        }
        return result
    }

    private static let devicesQuery =
        "SELECT tuid, cursor_ts, observations, updated_at FROM devices WHERE dry_run = ? ORDER BY tuid"

    private static func ruleState(_ row: Statement, dryRun: Bool) -> RuleStateRow {
        RuleStateRow(
            rule: row.string(at: 0), tuid: row.string(at: 1), dryRun: dryRun, state: row.data(at: 2),
            updatedAt: row.int64(at: 3))
    }

    private static func device(_ row: Statement, dryRun: Bool) -> DeviceRow {
        DeviceRow(
            tuid: row.string(at: 0), dryRun: dryRun, cursorTs: row.optionalInt64(at: 1),
            observations: row.optionalData(at: 2), updatedAt: row.int64(at: 3))
    }

    /// Inserts or replaces rule states and device rows, all in one transaction.
    public func saveState(ruleStates: [RuleStateRow], devices: [DeviceRow]) throws {
        let now = now()
        try database.transaction {
            try saveRows(ruleStates: ruleStates, devices: devices, now: now)
        }
    }

    func saveRows(ruleStates: [RuleStateRow], devices: [DeviceRow], now: Int64) throws {
        for row in ruleStates {
            try database.run(
                """
                INSERT INTO rule_state (rule, tuid, dry_run, state, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (rule, tuid, dry_run) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at
                """,
                [
                    .text(row.rule), .text(row.tuid), .integer(row.dryRun ? 1 : 0), .blob(row.state),
                    .integer(row.updatedAt ?? now),
                ])
        }
        for row in devices {
            try database.run(
                """
                INSERT INTO devices (tuid, dry_run, cursor_ts, observations, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (tuid, dry_run) DO UPDATE SET cursor_ts = excluded.cursor_ts,
                    observations = excluded.observations, updated_at = excluded.updated_at
                """,
                [
                    .text(row.tuid), .integer(row.dryRun ? 1 : 0), row.cursorTs.map(SQLValue.integer) ?? .null,
                    row.observations.map(SQLValue.blob) ?? .null, .integer(row.updatedAt ?? now),
                ])
        }
    }
}
