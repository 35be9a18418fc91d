import CSQLite3
import Foundation

extension SQLiteStore {
    /// Logs the intents and saves the rule states and device rows they follow from, in one transaction.
    ///
    /// Each intent starts as ``ActionOutcome/intent``, or ``ActionOutcome/would`` for a dry run, or its final
    /// outcome for a `log` action (see ``ActionIntent/outcome``). An intent whose firing key is already logged is
    /// not logged again: its existing row's id is returned. Returns one id per intent, in order.
    @discardableResult
    public func recordIntents(
        _ intents: [ActionIntent], ruleStates: [RuleStateRow], devices: [DeviceRow]
    ) throws -> [Int64] {
        let now = now()
        return try database.transaction {
            var ids: [Int64] = []
            ids.reserveCapacity(intents.count)
            for intent in intents {
                let statement = try database.cachedStatement(Self.insertActionSQL + " RETURNING id")
                try Self.bindInsert(statement, intent, now: now)
                if try statement.step() {
                    ids.append(statement.int64(at: 0))
                    statement.reset()
                } else {
                    statement.reset()
                    let existing = try database.query(
                        "SELECT id FROM actions WHERE firing_key = ?", [.text(intent.firingKey)]
                    ) { $0.int64(at: 0) }
                    ids.append(existing[0])
                }
            }
            try saveRows(ruleStates: ruleStates, devices: devices, now: now)
            return ids
        }
    }

    /// Appends many actions in one transaction with one reused prepared statement; for imports and benchmarks.
    ///
    /// Same rules as ``recordIntents(_:ruleStates:devices:)`` (initial outcome, firing keys logged once).
    /// Returns how many rows were inserted.
    @discardableResult
    public func appendActions(_ records: [ActionIntent]) throws -> Int {
        let now = now()
        return try database.transaction {
            let statement = try database.cachedStatement(Self.insertActionSQL)
            var inserted = 0
            for record in records {
                try Self.bindInsert(statement, record, now: now)
                try statement.step()
                inserted += database.changes
                statement.reset()
            }
            return inserted
        }
    }

    /// Records how an intent ended: ``ActionOutcome/done``, ``ActionOutcome/failed``, ``ActionOutcome/skipped``….
    ///
    /// A `send` that is done becomes ``ConfirmState/pending`` until ``confirm(id:at:values:)``. Only an open intent
    /// can be completed; anything else throws ``StoreError/Kind/invalidTransition(id:)``.
    /// - Parameter transactionID: the command's `transactionId`, if not already given with the intent.
    public func complete(
        id: Int64, outcome: ActionOutcome, httpStatus: Int?, error: String?,
        transactionID: Int64?
    ) throws {
        guard outcome != .intent else {
            throw StoreError(
                kind: .invalidTransition(id: id), code: SQLITE_MISUSE,
                message: "an action cannot be completed with outcome 'intent'", operation: "complete action \(id)")
        }
        try database.run(
            """
            UPDATE actions SET outcome = ?1, http_status = ?2, error = ?3,
                transaction_id = coalesce(?4, transaction_id), completed_at = ?5,
                confirm_state = CASE WHEN action = 'send' AND ?1 = 'done' THEN 'pending' END
            WHERE id = ?6 AND outcome = 'intent'
            """,
            [
                .text(outcome.rawValue), httpStatus.map { .integer(Int64($0)) } ?? .null,
                error.map(SQLValue.text) ?? .null,
                transactionID.map(SQLValue.integer) ?? .null, .integer(now()), .integer(id),
            ])
        if database.changes == 0 {
            _ = try existingAction(id, operation: "complete action \(id)")
            throw StoreError(
                kind: .invalidTransition(id: id), code: SQLITE_CONSTRAINT,
                message: "action \(id) is not an open intent; the action log is append-only",
                operation: "complete action \(id)")
        }
    }

    /// Records that a sent command's echo arrived: when (device time) and the configuration values it carried.
    ///
    /// Works on a `pending` or `unconfirmed` send (a late echo still counts). Returns false, changing nothing, if
    /// the action was already confirmed (a duplicated echo).
    @discardableResult
    public func confirm(id: Int64, at time: Int64, values: String?) throws -> Bool {
        try database.run(
            """
            UPDATE actions SET confirm_state = 'confirmed', confirmed_at = ?, confirmed_values = ?
            WHERE id = ? AND confirm_state IN ('pending', 'unconfirmed')
            """, [.integer(time), values.map(SQLValue.text) ?? .null, .integer(id)])
        if database.changes > 0 { return true }
        let existing = try existingAction(id, operation: "confirm action \(id)")
        if existing.confirmState == .confirmed { return false }
        throw StoreError(
            kind: .invalidTransition(id: id), code: SQLITE_CONSTRAINT,
            message: "action \(id) is not a sent command awaiting its echo", operation: "confirm action \(id)")
    }

    /// Records that a sent command's echo did not arrive in time.
    ///
    /// Returns false, changing nothing, if the action is no longer pending (confirmed meanwhile, or already marked).
    @discardableResult
    public func markUnconfirmed(id: Int64) throws -> Bool {
        try database.run(
            "UPDATE actions SET confirm_state = 'unconfirmed' WHERE id = ? AND confirm_state = 'pending'",
            [.integer(id)])
        if database.changes > 0 { return true }
        let existing = try existingAction(id, operation: "mark action \(id) unconfirmed")
        if existing.confirmState != nil { return false }
        throw StoreError(
            kind: .invalidTransition(id: id), code: SQLITE_CONSTRAINT,
            message: "action \(id) is not a sent command awaiting its echo",
            operation: "mark action \(id) unconfirmed")
    }

    /// Live actions written as intents and never completed: after a crash, to reconcile against the API. Oldest first.
    public func openIntents() throws -> [ActionRecord] {
        try database.query(
            "SELECT \(Self.actionColumns) FROM actions WHERE outcome = 'intent' AND dry_run = 0 ORDER BY id",
            row: Self.actionRecord)
    }

    /// Live sent commands accepted by the API whose echo is still awaited. Oldest first.
    public func pendingConfirmations() throws -> [ActionRecord] {
        try database.query(
            """
            SELECT \(Self.actionColumns) FROM actions
            WHERE confirm_state = 'pending' AND action = 'send' AND outcome = 'done' AND dry_run = 0 ORDER BY id
            """, row: Self.actionRecord)
    }

    /// One action by id, or nil.
    public func action(id: Int64) throws -> ActionRecord? {
        try database.query(
            "SELECT \(Self.actionColumns) FROM actions WHERE id = ?", [.integer(id)], row: Self.actionRecord
        )
        .first
    }

    /// The action log, filtered; newest first unless ``ActionFilter/oldestFirst``.
    public func actions(filter: ActionFilter) throws -> [ActionRecord] {
        var conditions: [String] = []
        var values: [SQLValue] = []
        if let rule = filter.rule {
            conditions.append("rule = ?")
            values.append(.text(rule))
        }
        if let tuid = filter.tuid {
            conditions.append("tuid = ?")
            values.append(.text(tuid))
        }
        if let since = filter.since {
            conditions.append("time >= ?")
            values.append(.integer(since))
        }
        if let dryRun = filter.dryRun {
            conditions.append("dry_run = ?")
            values.append(.integer(dryRun ? 1 : 0))
        }
        if filter.unconfirmedOnly {
            conditions.append("confirm_state IN ('pending', 'unconfirmed')")
        }
        var sql = "SELECT \(Self.actionColumns) FROM actions"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += filter.oldestFirst ? " ORDER BY time, id" : " ORDER BY time DESC, id DESC"
        if let limit = filter.limit {
            sql += " LIMIT ?"
            values.append(.integer(Int64(max(0, limit))))
        }
        return try database.query(sql, values, row: Self.actionRecord)
    }

    // MARK: Rows

    private func existingAction(_ id: Int64, operation: String) throws -> ActionRecord {
        guard let record = try action(id: id) else {
            throw StoreError(
                kind: .noSuchRow(table: "actions", id: id), code: SQLITE_NOTFOUND, message: "no action with id \(id)",
                operation: operation)
        }
        return record
    }

    static let insertActionSQL = """
        INSERT INTO actions (time, rule, tuid, action, parameters, dry_run, outcome, error, transaction_id,
            firing_key, created_at, completed_at, why, severity)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (firing_key) DO NOTHING
        """

    static func bindInsert(_ statement: Statement, _ intent: ActionIntent, now: Int64) throws {
        let outcome = intent.initialOutcome
        try statement.bind(intent.time, at: 1)
        try statement.bind(intent.rule, at: 2)
        try statement.bind(intent.tuid, at: 3)
        try statement.bind(intent.kind.rawValue, at: 4)
        try statement.bind(intent.parameters, at: 5)
        try statement.bind(intent.dryRun, at: 6)
        try statement.bind(outcome.rawValue, at: 7)
        try statement.bind(intent.error, at: 8)
        try statement.bind(intent.transactionID, at: 9)
        try statement.bind(intent.firingKey, at: 10)
        try statement.bind(now, at: 11)
        try statement.bind(outcome == .intent ? nil : now, at: 12)
        try statement.bind(intent.why, at: 13)
        try statement.bind(intent.severity, at: 14)
    }

    static let actionColumns = """
        id, time, rule, tuid, action, parameters, dry_run, outcome, http_status, error, transaction_id, \
        confirmed_at, confirmed_values, confirm_state, firing_key, created_at, completed_at, why, severity
        """

    static func actionRecord(_ row: Statement) throws -> ActionRecord {
        let id = row.int64(at: 0)
        let kindText = row.string(at: 4)
        guard let kind = ActionKind(rawValue: kindText) else {
            throw StoreError(
                code: SQLITE_MISMATCH, message: "action \(id) has unknown kind '\(kindText)'", operation: "read actions"
            )
        }
        return ActionRecord(
            id: id, time: row.int64(at: 1), rule: row.string(at: 2), tuid: row.string(at: 3), kind: kind,
            parameters: row.string(at: 5), dryRun: row.bool(at: 6), outcome: ActionOutcome(rawValue: row.string(at: 7)),
            httpStatus: row.optionalInt(at: 8), error: row.optionalString(at: 9),
            transactionID: row.optionalInt64(at: 10), confirmedAt: row.optionalInt64(at: 11),
            confirmedValues: row.optionalString(at: 12),
            confirmState: row.optionalString(at: 13).flatMap(ConfirmState.init(rawValue:)),
            firingKey: row.string(at: 14), createdAt: row.int64(at: 15), completedAt: row.optionalInt64(at: 16),
            why: row.optionalString(at: 17), severity: row.optionalString(at: 18))
    }
}
