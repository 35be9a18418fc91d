/// The tsee database: the append-only action log, rule state, device cursors, cycles and the deployment identity.
///
/// One protocol with two implementations: ``SQLiteStore`` (one file, one `tsee run` at a time) and
/// ``PostgresStore`` (one server, several `tsee run` processes sharing the fleet through leases). Both keep the same
/// schema and the same guarantees, enforced by the database itself: the action log is append-only, a firing key is
/// logged once, and intents are written in the same transaction as the state change they follow from.
///
/// Secrets (the client secret, access tokens, the database password) are never written here.
public protocol Store: Sendable {
    /// Where the state lives, for messages: a file path, or a `postgres://` URL without its password.
    var location: String { get }

    // MARK: The action log

    /// Logs the intents and saves the rule states and device rows they follow from, in one transaction.
    ///
    /// Each intent starts as ``ActionOutcome/intent``, or ``ActionOutcome/would`` for a dry run, or its final
    /// outcome for a `log` action (see ``ActionIntent/outcome``). An intent whose firing key is already logged is
    /// not logged again: its existing row's id is returned. Returns one id per intent, in order.
    @discardableResult
    func recordIntents(_ intents: [ActionIntent], ruleStates: [RuleStateRow], devices: [DeviceRow]) async throws
        -> [Int64]

    /// Appends many actions in one transaction; for imports and benchmarks. Same rules as
    /// ``recordIntents(_:ruleStates:devices:)``. Returns how many rows were inserted.
    @discardableResult
    func appendActions(_ records: [ActionIntent]) async throws -> Int

    /// Records how an open intent ended; anything but an open intent throws
    /// ``StoreError/Kind/invalidTransition(id:)``. A `send` that is done becomes ``ConfirmState/pending``.
    func complete(id: Int64, outcome: ActionOutcome, httpStatus: Int?, error: String?, transactionID: Int64?)
        async throws

    /// Records that a sent command's echo arrived. Returns false, changing nothing, if already confirmed.
    @discardableResult
    func confirm(id: Int64, at time: Int64, values: String?) async throws -> Bool

    /// Records that a sent command's echo did not arrive in time. Returns false if it is no longer pending.
    @discardableResult
    func markUnconfirmed(id: Int64) async throws -> Bool

    /// Live actions written as intents and never completed. Oldest first.
    func openIntents() async throws -> [ActionRecord]

    /// Live sent commands accepted by the API whose echo is still awaited. Oldest first.
    func pendingConfirmations() async throws -> [ActionRecord]

    /// One action by id, or nil.
    func action(id: Int64) async throws -> ActionRecord?

    /// The action log, filtered; newest first unless ``ActionFilter/oldestFirst``.
    func actions(filter: ActionFilter) async throws -> [ActionRecord]

    // MARK: State

    /// Saved rule state machines, live or dry-run.
    func ruleStates(dryRun: Bool) async throws -> [RuleStateRow]

    /// Saved device cursors and observation snapshots, live or dry-run.
    func devices(dryRun: Bool) async throws -> [DeviceRow]

    /// The saved rule states, live or dry-run, folded into `initial` one row at a time in device order (by
    /// `tuid`, then `rule`): how a scheduler reads a fleet's states at start without holding all their rows.
    func foldRuleStates<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, RuleStateRow) -> Void
    ) async throws -> Result

    /// The saved device rows, live or dry-run, folded into `initial` one row at a time (by `tuid`).
    func foldDevices<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, DeviceRow) -> Void
    ) async throws -> Result

    /// Inserts or replaces rule states and device rows, all in one transaction.
    func saveState(ruleStates: [RuleStateRow], devices: [DeviceRow]) async throws

    /// Forgets every device's cursor and saved observations, keeping rule states and the log.
    func resetCursors(dryRun: Bool) async throws

    /// The newest saved cursor (device time), live or dry-run.
    func newestCursor(dryRun: Bool) async throws -> Int64?

    // MARK: Cycles

    /// Starts a cycle's row; returns its id for ``finishCycle(id:summary:)``.
    func beginCycle(startedAt: Int64, dryRun: Bool) async throws -> Int64

    /// Records what a cycle did.
    func finishCycle(id: Int64, summary: CycleSummary) async throws

    /// Recent cycles, newest first.
    func cycles(limit: Int) async throws -> [CycleRecord]

    // MARK: Identity

    /// The deployment recorded in the database, if any run has recorded one.
    func deploymentIdentity() async throws -> DeploymentIdentity?

    /// Records `identity` if the database has none yet; returns the identity the database belongs to.
    @discardableResult
    func claimDeployment(_ identity: DeploymentIdentity) async throws -> DeploymentIdentity

    // MARK: Leases

    /// Heartbeat; renew this owner's leases; give back those beyond its share; claim free or expired ones up to it.
    /// SQLite (one process per file) grants every device; PostgreSQL splits them among the live processes.
    func holdLeases(_ request: LeaseRequest) async throws -> LeaseGrant

    /// Gives up every lease of `owner` and removes its heartbeat (a clean stop): others take over at once.
    func releaseLeases(owner: String) async throws

    /// The processes with a heartbeat row, newest heartbeat first (`tsee status`).
    func processes() async throws -> ProcessList

    /// Closes the connection(s); later calls throw.
    func close() async
}

/// The short forms: what most callers pass.
extension Store {
    /// Folds the rows ``ruleStates(dryRun:)`` returns, all read first (a store that cannot step through its rows).
    public func foldRuleStates<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, RuleStateRow) -> Void
    ) async throws -> Result {
        var result = initial
        let rows = try await ruleStates(dryRun: dryRun).sorted { ($0.tuid, $0.rule) < ($1.tuid, $1.rule) }
        for row in rows { next(&result, row) }
        return result
    }

    /// Folds the rows ``devices(dryRun:)`` returns, all read first (a store that cannot step through its rows).
    public func foldDevices<Result: Sendable>(
        dryRun: Bool, into initial: Result, _ next: @Sendable (inout Result, DeviceRow) -> Void
    ) async throws -> Result {
        var result = initial
        for row in try await devices(dryRun: dryRun).sorted(by: { $0.tuid < $1.tuid }) { next(&result, row) }
        return result
    }

    @discardableResult
    public func recordIntents(_ intents: [ActionIntent]) async throws -> [Int64] {
        try await recordIntents(intents, ruleStates: [], devices: [])
    }

    @discardableResult
    public func recordIntents(_ intents: [ActionIntent], ruleStates: [RuleStateRow]) async throws -> [Int64] {
        try await recordIntents(intents, ruleStates: ruleStates, devices: [])
    }

    public func complete(id: Int64, outcome: ActionOutcome) async throws {
        try await complete(id: id, outcome: outcome, httpStatus: nil, error: nil, transactionID: nil)
    }

    public func complete(id: Int64, outcome: ActionOutcome, error: String?) async throws {
        try await complete(id: id, outcome: outcome, httpStatus: nil, error: error, transactionID: nil)
    }

    public func complete(id: Int64, outcome: ActionOutcome, httpStatus: Int?) async throws {
        try await complete(id: id, outcome: outcome, httpStatus: httpStatus, error: nil, transactionID: nil)
    }

    public func complete(id: Int64, outcome: ActionOutcome, httpStatus: Int?, error: String?) async throws {
        try await complete(id: id, outcome: outcome, httpStatus: httpStatus, error: error, transactionID: nil)
    }

    public func complete(id: Int64, outcome: ActionOutcome, httpStatus: Int?, transactionID: Int64?) async throws {
        try await complete(id: id, outcome: outcome, httpStatus: httpStatus, error: nil, transactionID: transactionID)
    }

    public func actions() async throws -> [ActionRecord] {
        try await actions(filter: ActionFilter())
    }

    public func cycles() async throws -> [CycleRecord] {
        try await cycles(limit: 100)
    }
}
