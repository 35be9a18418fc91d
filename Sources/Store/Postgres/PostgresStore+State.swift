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
        var states: [String: RuleStateRow] = [:]
        var stateOrder: [String] = []
        for row in ruleStates {
            let key = "\(row.rule)\u{0}\(row.tuid)\u{0}\(row.dryRun)"
            if states.updateValue(row, forKey: key) == nil { stateOrder.append(key) }
        }
        for chunk in stride(from: 0, to: stateOrder.count, by: 500).map({ stateOrder[$0..<min($0 + 500, stateOrder.count)] }) {
            var binds = PostgresBindings(capacity: chunk.count * 5)
            var tuples: [String] = []
            for key in chunk {
                let row = states[key]!
                let first = binds.count + 1
                binds.append(row.rule)
                binds.append(row.tuid)
                binds.append(row.dryRun)
                try binds.append(row.state)
                binds.append(row.updatedAt ?? now)
                tuples.append("($\(first), $\(first + 1), $\(first + 2), $\(first + 3), $\(first + 4))")
            }
            try await run(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO rule_state (rule, tuid, dry_run, state, updated_at)
                        VALUES \(tuples.joined(separator: ", "))
                        ON CONFLICT (rule, tuid, dry_run) DO UPDATE
                            SET state = excluded.state, updated_at = excluded.updated_at
                        """, binds: binds), on: connection)
        }
        var rows: [String: DeviceRow] = [:]
        var rowOrder: [String] = []
        for row in devices {
            let key = "\(row.tuid)\u{0}\(row.dryRun)"
            if rows.updateValue(row, forKey: key) == nil { rowOrder.append(key) }
        }
        for chunk in stride(from: 0, to: rowOrder.count, by: 500).map({ rowOrder[$0..<min($0 + 500, rowOrder.count)] }) {
            var binds = PostgresBindings(capacity: chunk.count * 5)
            var tuples: [String] = []
            for key in chunk {
                let row = rows[key]!
                let first = binds.count + 1
                binds.append(row.tuid)
                binds.append(row.dryRun)
                binds.append(row.cursorTs)
                try binds.append(row.observations)
                binds.append(row.updatedAt ?? now)
                tuples.append("($\(first), $\(first + 1), $\(first + 2), $\(first + 3), $\(first + 4))")
            }
            try await run(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO devices (tuid, dry_run, cursor_ts, observations, updated_at)
                        VALUES \(tuples.joined(separator: ", "))
                        ON CONFLICT (tuid, dry_run) DO UPDATE SET cursor_ts = excluded.cursor_ts,
                            observations = excluded.observations, updated_at = excluded.updated_at
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
