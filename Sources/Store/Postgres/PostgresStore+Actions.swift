import Foundation
import NIOCore
import PostgresNIO

extension PostgresStore {
    public func recordIntents(
        _ intents: [ActionIntent], ruleStates: [RuleStateRow], devices: [DeviceRow]
    ) async throws -> [Int64] {
        let now = now()
        return try await transaction("record \(intents.count) intents") { connection in
            var ruleStates = ruleStates
            var devices = devices
            let tuids = Set(intents.map(\.tuid) + ruleStates.map(\.tuid) + devices.map(\.tuid))
            if let held = try await fencedDevices(tuids, on: connection) {
                if let lost = intents.first(where: { !held.contains($0.tuid) }) {
                    throw StoreError(
                        kind: .leaseLost(tuid: lost.tuid), code: StoreError.Code.busy,
                        message: "this process no longer holds the lease of \(lost.tuid); its new owner acts on it",
                        operation: "record intents")
                }
                ruleStates.removeAll { !held.contains($0.tuid) }
                devices.removeAll { !held.contains($0.tuid) }
            }
            // One multi-row INSERT for the firing's intents (a firing key already logged inserts nothing and keeps
            // its row's id), then the state rows: a few round trips per firing, whatever its size.
            var logged: [String: Int64] = [:]
            if !intents.isEmpty {
                for row in try await rows(Self.insertQuery(intents, now: now, returning: true), on: connection) {
                    logged[try row[1].decode(String.self)] = try row[0].decode(Int64.self)
                }
                let missing = Array(Set(intents.map(\.firingKey).filter { logged[$0] == nil }))
                if !missing.isEmpty {
                    for row in try await rows(
                        "SELECT id, firing_key FROM actions WHERE firing_key = ANY(\(missing)::text[])", on: connection)
                    {
                        logged[try row[1].decode(String.self)] = try row[0].decode(Int64.self)
                    }
                }
            }
            try await saveRows(ruleStates: ruleStates, devices: devices, now: now, on: connection)
            return try intents.map { intent in
                guard let id = logged[intent.firingKey] else {
                    throw StoreError(
                        code: StoreError.Code.error, message: "firing key \(intent.firingKey) was neither logged nor found",
                        operation: "record intents")
                }
                return id
            }
        }
    }

    public func appendActions(_ records: [ActionIntent]) async throws -> Int {
        let now = now()
        // COPY into a staging table, then one INSERT … SELECT that logs each firing key once: the server's bulk
        // path, with the same rules (and the same constraints and triggers) as recordIntents.
        return try await transaction("append \(records.count) actions") { connection in
            try await run(
                """
                CREATE TEMP TABLE tsee_append (time BIGINT, rule TEXT, tuid TEXT, action TEXT, parameters TEXT,
                    dry_run BOOLEAN, outcome TEXT, error TEXT, transaction_id BIGINT, firing_key TEXT,
                    created_at BIGINT, completed_at BIGINT, why TEXT, severity TEXT) ON COMMIT DROP
                """, on: connection)
            try await connection.copyFrom(table: "tsee_append", logger: logger) { writer in
                var start = 0
                while start < records.count {
                    let end = min(start + 5_000, records.count)
                    var buffer = ByteBuffer()
                    buffer.reserveCapacity((end - start) * 200)
                    for intent in records[start..<end] { Self.writeCopyRow(intent, now: now, into: &buffer) }
                    try await writer.write(buffer)
                    start = end
                }
            }
            return try await rows(
                """
                WITH inserted AS (
                    INSERT INTO actions (\(unescaped: Self.insertColumns))
                    SELECT \(unescaped: Self.insertColumns) FROM tsee_append
                    ON CONFLICT (firing_key) DO NOTHING RETURNING 1)
                SELECT count(*) FROM inserted
                """, on: connection
            )[0][0].decode(Int.self)
        }
    }

    static let insertColumns = """
        time, rule, tuid, action, parameters, dry_run, outcome, error, transaction_id, firing_key, created_at, \
        completed_at, why, severity
        """

    /// One row of COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
    static func writeCopyRow(_ intent: ActionIntent, now: Int64, into buffer: inout ByteBuffer) {
        func field(_ text: String?) {
            guard let text else {
                buffer.writeString("\\N")
                return
            }
            guard text.utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else {
                buffer.writeString(text)
                return
            }
            var escaped = ""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\\": escaped += "\\\\"
                case "\t": escaped += "\\t"
                case "\n": escaped += "\\n"
                case "\r": escaped += "\\r"
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            buffer.writeString(escaped)
        }
        let outcome = intent.initialOutcome
        let fields: [String?] = [
            String(intent.time), intent.rule, intent.tuid, intent.kind.rawValue, intent.parameters,
            intent.dryRun ? "t" : "f", outcome.rawValue, intent.error, intent.transactionID.map(String.init),
            intent.firingKey, String(now), outcome == .intent ? nil : String(now), intent.why, intent.severity,
        ]
        for (index, value) in fields.enumerated() {
            if index > 0 { buffer.writeString("\t") }
            field(value)
        }
        buffer.writeString("\n")
    }

    public func complete(
        id: Int64, outcome: ActionOutcome, httpStatus: Int?, error: String?, transactionID: Int64?
    ) async throws {
        let operation = "complete action \(id)"
        guard outcome != .intent else {
            throw StoreError(
                kind: .invalidTransition(id: id), code: StoreError.Code.misuse,
                message: "an action cannot be completed with outcome 'intent'", operation: operation)
        }
        let now = now()
        let status = httpStatus.map(Int64.init)
        let changed = try await withConnection(operation) { connection in
            try await rows(
                """
                UPDATE actions SET outcome = \(outcome.rawValue), http_status = \(status), error = \(error),
                    transaction_id = coalesce(\(transactionID)::bigint, transaction_id), completed_at = \(now),
                    confirm_state = CASE WHEN action = 'send' AND \(outcome.rawValue)::text = 'done'
                        THEN 'pending' END
                WHERE id = \(id) AND outcome = 'intent' RETURNING id
                """, on: connection
            ).count
        }
        if changed == 0 {
            _ = try await existingAction(id, operation: operation)
            throw StoreError(
                kind: .invalidTransition(id: id), code: StoreError.Code.constraint,
                message: "action \(id) is not an open intent; the action log is append-only", operation: operation)
        }
    }

    public func confirm(id: Int64, at time: Int64, values: String?) async throws -> Bool {
        let operation = "confirm action \(id)"
        let changed = try await withConnection(operation) { connection in
            try await rows(
                """
                UPDATE actions SET confirm_state = 'confirmed', confirmed_at = \(time), confirmed_values = \(values)
                WHERE id = \(id) AND confirm_state IN ('pending', 'unconfirmed') RETURNING id
                """, on: connection
            ).count
        }
        if changed > 0 { return true }
        let existing = try await existingAction(id, operation: operation)
        if existing.confirmState == .confirmed { return false }
        throw StoreError(
            kind: .invalidTransition(id: id), code: StoreError.Code.constraint,
            message: "action \(id) is not a sent command awaiting its echo", operation: operation)
    }

    public func markUnconfirmed(id: Int64) async throws -> Bool {
        let operation = "mark action \(id) unconfirmed"
        let changed = try await withConnection(operation) { connection in
            try await rows(
                """
                UPDATE actions SET confirm_state = 'unconfirmed' WHERE id = \(id) AND confirm_state = 'pending'
                RETURNING id
                """, on: connection
            ).count
        }
        if changed > 0 { return true }
        let existing = try await existingAction(id, operation: operation)
        if existing.confirmState != nil { return false }
        throw StoreError(
            kind: .invalidTransition(id: id), code: StoreError.Code.constraint,
            message: "action \(id) is not a sent command awaiting its echo", operation: operation)
    }

    public func openIntents() async throws -> [ActionRecord] {
        try await records(
            PostgresQuery(
                unsafeSQL:
                    "SELECT \(Self.actionColumns) FROM actions WHERE outcome = 'intent' AND NOT dry_run ORDER BY id"),
            operation: "read open intents")
    }

    public func pendingConfirmations() async throws -> [ActionRecord] {
        try await records(
            PostgresQuery(
                unsafeSQL: """
                    SELECT \(Self.actionColumns) FROM actions
                    WHERE confirm_state = 'pending' AND action = 'send' AND outcome = 'done' AND NOT dry_run
                    ORDER BY id
                    """), operation: "read pending confirmations")
    }

    public func action(id: Int64) async throws -> ActionRecord? {
        var binds = PostgresBindings()
        binds.append(id)
        return try await records(
            PostgresQuery(unsafeSQL: "SELECT \(Self.actionColumns) FROM actions WHERE id = $1", binds: binds),
            operation: "read action \(id)"
        ).first
    }

    public func actions(filter: ActionFilter) async throws -> [ActionRecord] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func parameter() -> String { "$\(binds.count)" }
        if let rule = filter.rule {
            binds.append(rule)
            conditions.append("rule = \(parameter())")
        }
        if let tuid = filter.tuid {
            binds.append(tuid)
            conditions.append("tuid = \(parameter())")
        }
        if let since = filter.since {
            binds.append(since)
            conditions.append("time >= \(parameter())")
        }
        if let dryRun = filter.dryRun {
            binds.append(dryRun)
            conditions.append("dry_run = \(parameter())")
        }
        if filter.unconfirmedOnly {
            conditions.append("confirm_state IN ('pending', 'unconfirmed')")
        }
        var sql = "SELECT \(Self.actionColumns) FROM actions"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += filter.oldestFirst ? " ORDER BY time, id" : " ORDER BY time DESC, id DESC"
        if let limit = filter.limit {
            binds.append(Int64(max(0, limit)))
            sql += " LIMIT \(parameter())"
        }
        return try await records(PostgresQuery(unsafeSQL: sql, binds: binds), operation: "read the action log")
    }

    // MARK: Rows

    private func records(_ query: PostgresQuery, operation: String) async throws -> [ActionRecord] {
        try await withConnection(operation) { connection in
            try await rows(query, on: connection).map(Self.actionRecord)
        }
    }

    private func existingAction(_ id: Int64, operation: String) async throws -> ActionRecord {
        guard let record = try await action(id: id) else {
            throw StoreError(
                kind: .noSuchRow(table: "actions", id: id), code: StoreError.Code.notFound,
                message: "no action with id \(id)", operation: operation)
        }
        return record
    }

    /// One multi-row INSERT of `intents`, each row's firing key logged once (a duplicate inserts nothing).
    static func insertQuery(
        _ intents: some Collection<ActionIntent>, now: Int64, returning: Bool
    ) -> PostgresQuery {
        var binds = PostgresBindings(capacity: intents.count * 14)
        var tuples: [String] = []
        tuples.reserveCapacity(intents.count)
        for intent in intents {
            let outcome = intent.initialOutcome
            let first = binds.count + 1
            binds.append(intent.time)
            binds.append(intent.rule)
            binds.append(intent.tuid)
            binds.append(intent.kind.rawValue)
            binds.append(intent.parameters)
            binds.append(intent.dryRun)
            binds.append(outcome.rawValue)
            binds.append(intent.error)
            binds.append(intent.transactionID)
            binds.append(intent.firingKey)
            binds.append(now)
            binds.append(outcome == .intent ? nil : now)
            binds.append(intent.why)
            binds.append(intent.severity)
            tuples.append("(" + (first..<(first + 14)).map { "$\($0)" }.joined(separator: ", ") + ")")
        }
        let sql = """
            INSERT INTO actions (time, rule, tuid, action, parameters, dry_run, outcome, error, transaction_id,
                firing_key, created_at, completed_at, why, severity)
            VALUES \(tuples.joined(separator: ", "))
            ON CONFLICT (firing_key) DO NOTHING\(returning ? " RETURNING id, firing_key" : "")
            """
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    static let actionColumns = """
        id, time, rule, tuid, action, parameters, dry_run, outcome, http_status, error, transaction_id, \
        confirmed_at, confirmed_values, confirm_state, firing_key, created_at, completed_at, why, severity
        """

    static func actionRecord(_ row: PostgresRandomAccessRow) throws -> ActionRecord {
        let id = try row[0].decode(Int64.self)
        let kindText = try row[4].decode(String.self)
        guard let kind = ActionKind(rawValue: kindText) else {
            throw StoreError(
                code: StoreError.Code.mismatch, message: "action \(id) has unknown kind '\(kindText)'",
                operation: "read actions")
        }
        return ActionRecord(
            id: id, time: try row[1].decode(Int64.self), rule: try row[2].decode(String.self),
            tuid: try row[3].decode(String.self), kind: kind, parameters: try row[5].decode(String.self),
            dryRun: try row[6].decode(Bool.self), outcome: ActionOutcome(rawValue: try row[7].decode(String.self)),
            httpStatus: try row[8].decode(Int?.self), error: try row[9].decode(String?.self),
            transactionID: try row[10].decode(Int64?.self), confirmedAt: try row[11].decode(Int64?.self),
            confirmedValues: try row[12].decode(String?.self),
            confirmState: try row[13].decode(String?.self).flatMap(ConfirmState.init(rawValue:)),
            firingKey: try row[14].decode(String.self), createdAt: try row[15].decode(Int64.self),
            completedAt: try row[16].decode(Int64?.self), why: try row[17].decode(String?.self),
            severity: try row[18].decode(String?.self))
    }
}
