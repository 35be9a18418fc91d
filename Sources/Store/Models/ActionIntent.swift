/// An action about to be carried out, as the scheduler hands it to ``Store/recordIntents(_:ruleStates:devices:)``.
public struct ActionIntent: Sendable, Hashable {
    /// When the rule fired, in Unix seconds on the device/API clock.
    public var time: Int64
    public var rule: String
    public var tuid: String
    public var kind: ActionKind
    /// The action's parameters as JSON text, e.g. `{"status":"quarantine"}`.
    public var parameters: String
    public var dryRun: Bool
    /// Unique per action of a firing; see ``FiringKey``.
    public var firingKey: String
    /// For `send`: the `transactionId` chosen before the call, so a restart can find the command and its echo.
    public var transactionID: Int64?
    /// The outcome to record now instead of ``ActionOutcome/intent``: for an action already settled when it is
    /// logged (a `log`, a `move` skipped because the device has that status). Nil: ``ActionOutcome/would`` for a
    /// dry run, ``ActionOutcome/done`` for `log`, else ``ActionOutcome/intent``.
    public var outcome: ActionOutcome?
    /// An error or note for a settled outcome.
    public var error: String?
    /// Why the rule fired: the sub-condition values at firing time, as JSON text (`tsee log --why`).
    public var why: String?
    /// The rule's `severity`, recorded with every action.
    public var severity: String?

    public init(
        time: Int64, rule: String, tuid: String, kind: ActionKind, parameters: String = "{}", dryRun: Bool,
        firingKey: String, transactionID: Int64? = nil, outcome: ActionOutcome? = nil, error: String? = nil,
        why: String? = nil, severity: String? = nil
    ) {
        self.time = time
        self.rule = rule
        self.tuid = tuid
        self.kind = kind
        self.parameters = parameters
        self.dryRun = dryRun
        self.firingKey = firingKey
        self.transactionID = transactionID
        self.outcome = outcome
        self.error = error
        self.why = why
        self.severity = severity
    }

    /// An intent whose firing key is built from the rule, device, firing sequence and action index.
    public init(
        time: Int64, rule: String, tuid: String, sequence: Int64, actionIndex: Int, kind: ActionKind,
        parameters: String = "{}", dryRun: Bool, transactionID: Int64? = nil, outcome: ActionOutcome? = nil,
        error: String? = nil, why: String? = nil, severity: String? = nil
    ) {
        let key = FiringKey(rule: rule, tuid: tuid, sequence: sequence, actionIndex: actionIndex, dryRun: dryRun)
        self.init(
            time: time, rule: rule, tuid: tuid, kind: kind, parameters: parameters, dryRun: dryRun,
            firingKey: key.description, transactionID: transactionID, outcome: outcome, error: error, why: why,
            severity: severity)
    }

    /// The outcome the row starts with.
    var initialOutcome: ActionOutcome {
        if let outcome { return outcome }
        if dryRun { return .would }
        return kind == .log ? .done : .intent
    }
}
