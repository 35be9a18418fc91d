/// Request counters, also served as JSON at `GET /_sim/stats`.
public struct SimulatorStats: Sendable, Equatable {
    /// Every request received, `/_sim` excepted.
    public var total = 0
    /// Requests by `"METHOD /route-template"`, e.g. `"GET /things/{tuid}/messages"`; unmatched ones as `"METHOD (unknown)"`.
    public var byRoute: [String: Int] = [:]
    /// POST and DELETE API requests received (token requests excepted), whatever their outcome.
    public var mutating = 0
    /// Of those, the ones that changed something: answered 2xx, or applied and then answered ambiguously.
    public var mutatingApplied = 0
    /// Successful reads answered with a malformed body (`malformedRate`, `malformedEvery`).
    public var malformed = 0
    /// Writes applied and then answered 504 or not at all (`ambiguousWriteRate`).
    public var ambiguousWrites = 0
    /// Of those, the ones whose connection was closed without an answer.
    public var droppedConnections = 0
    /// Unusable items served in message pages (`badItemRate`).
    public var badItems = 0
    /// Answers by status code.
    public var byStatus: [Int: Int] = [:]

    public var unauthorized: Int { byStatus[401, default: 0] }
    public var rateLimited: Int { byStatus[429, default: 0] }
    public var unavailable: Int { byStatus[503, default: 0] }

    public init() {}

    var json: JSON {
        .object([
            ("total", .int(total)),
            ("mutating", .int(mutating)),
            ("mutatingApplied", .int(mutatingApplied)),
            ("unauthorized", .int(unauthorized)),
            ("rateLimited", .int(rateLimited)),
            ("unavailable", .int(unavailable)),
            ("malformed", .int(malformed)),
            ("ambiguousWrites", .int(ambiguousWrites)),
            ("droppedConnections", .int(droppedConnections)),
            ("badItems", .int(badItems)),
            ("byRoute", .object(byRoute.keys.sorted().map { ($0, .int(byRoute[$0]!)) })),
            ("byStatus", .object(byStatus.keys.sorted().map { (String($0), .int(byStatus[$0]!)) })),
        ])
    }
}
