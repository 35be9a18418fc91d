import CSQLite3

/// The deployment a database's state belongs to: cursors, rule state and the action log only make sense against the
/// API they were made with.
public struct DeploymentIdentity: Sendable, Equatable, CustomStringConvertible {
    public var baseURL: String
    public var clientID: String

    public init(baseURL: String, clientID: String) {
        self.baseURL = baseURL
        self.clientID = clientID
    }

    public var description: String { "\(baseURL) (client id \(clientID))" }
}

extension SQLiteStore {
    /// The deployment recorded in the database, if any run has recorded one.
    public func deploymentIdentity() throws -> DeploymentIdentity? {
        let values = try database.query(
            "SELECT key, value FROM meta WHERE key IN ('base_url', 'client_id')"
        ) { ($0.string(at: 0), $0.string(at: 1)) }
        let map = Dictionary(values, uniquingKeysWith: { a, _ in a })
        guard let url = map["base_url"], let id = map["client_id"] else { return nil }
        return DeploymentIdentity(baseURL: url, clientID: id)
    }

    /// Records `identity` if the database has none yet; returns the identity the database belongs to (the one
    /// recorded before, which may differ from `identity`: the caller decides what a mismatch means).
    @discardableResult
    public func claimDeployment(_ identity: DeploymentIdentity) throws -> DeploymentIdentity {
        try database.transaction {
            if let existing = try deploymentIdentity() { return existing }
            try database.run(
                "INSERT INTO meta (key, value) VALUES ('base_url', ?), ('client_id', ?)",
                [.text(identity.baseURL), .text(identity.clientID)])
            return identity
        }
    }

    /// Forgets every device's cursor and saved observations (live or dry-run), keeping the rule states (and so the
    /// firing sequences the firing keys are made of) and the log: the next cycle starts from `--lookback`. For
    /// cursors that lie in the API's future (a time-scaled simulator run, a restored backup).
    public func resetCursors(dryRun: Bool) throws {
        try database.run("DELETE FROM devices WHERE dry_run = ?", [.integer(dryRun ? 1 : 0)])
    }

    /// The newest saved cursor (device time), live or dry-run.
    public func newestCursor(dryRun: Bool) throws -> Int64? {
        try database.query(
            "SELECT max(cursor_ts) FROM devices WHERE dry_run = ?", [.integer(dryRun ? 1 : 0)]
        ) { $0.optionalInt64(at: 0) }.first ?? nil
    }
}
