/// One row of the action log, as read back.
///
/// Encodes (for `tsee log -o json`) with the column names as keys (`dry_run`, `http_status`, …), `dry_run` as a
/// boolean, absent values as `null`, and `parameters` and `confirmed_values` as embedded JSON, not strings.
public struct ActionRecord: Sendable, Hashable, Encodable {
    public var id: Int64
    /// Unix seconds, device/API clock.
    public var time: Int64
    public var rule: String
    public var tuid: String
    public var kind: ActionKind
    /// JSON text.
    public var parameters: String
    public var dryRun: Bool
    public var outcome: ActionOutcome
    public var httpStatus: Int?
    public var error: String?
    public var transactionID: Int64?
    /// Unix seconds, device clock of the echo.
    public var confirmedAt: Int64?
    /// JSON text: the configuration values the echo carried.
    public var confirmedValues: String?
    public var confirmState: ConfirmState?
    public var firingKey: String
    /// Unix seconds, local clock, when the row was written.
    public var createdAt: Int64
    /// Unix seconds, local clock, when the outcome became final.
    public var completedAt: Int64?
    /// JSON text: the sub-condition values when the rule fired.
    public var why: String?
    public var severity: String?

    public init(
        id: Int64, time: Int64, rule: String, tuid: String, kind: ActionKind, parameters: String, dryRun: Bool,
        outcome: ActionOutcome, httpStatus: Int? = nil, error: String? = nil, transactionID: Int64? = nil,
        confirmedAt: Int64? = nil, confirmedValues: String? = nil, confirmState: ConfirmState? = nil,
        firingKey: String, createdAt: Int64, completedAt: Int64? = nil, why: String? = nil, severity: String? = nil
    ) {
        self.id = id
        self.time = time
        self.rule = rule
        self.tuid = tuid
        self.kind = kind
        self.parameters = parameters
        self.dryRun = dryRun
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.error = error
        self.transactionID = transactionID
        self.confirmedAt = confirmedAt
        self.confirmedValues = confirmedValues
        self.confirmState = confirmState
        self.firingKey = firingKey
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.why = why
        self.severity = severity
    }

    enum CodingKeys: String, CodingKey {
        case id, time, rule, tuid
        case kind = "action"
        case parameters
        case dryRun = "dry_run"
        case outcome
        case httpStatus = "http_status"
        case error
        case transactionID = "transaction_id"
        case confirmedAt = "confirmed_at"
        case confirmedValues = "confirmed_values"
        case confirmState = "confirm_state"
        case firingKey = "firing_key"
        case createdAt = "created_at"
        case completedAt = "completed_at"
        case why, severity
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(time, forKey: .time)
        try c.encode(rule, forKey: .rule)
        try c.encode(tuid, forKey: .tuid)
        try c.encode(kind, forKey: .kind)
        try c.encode(JSONValue(embedding: parameters), forKey: .parameters)
        try c.encode(dryRun, forKey: .dryRun)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(httpStatus, forKey: .httpStatus)
        try c.encode(error, forKey: .error)
        try c.encode(transactionID, forKey: .transactionID)
        try c.encode(confirmedAt, forKey: .confirmedAt)
        try c.encode(confirmedValues.map(JSONValue.init(embedding:)), forKey: .confirmedValues)
        try c.encode(confirmState, forKey: .confirmState)
        try c.encode(firingKey, forKey: .firingKey)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(completedAt, forKey: .completedAt)
        try c.encode(why.map(JSONValue.init(embedding:)), forKey: .why)
        try c.encode(severity, forKey: .severity)
    }
}
