/// What a firing is: an episode starting, a `repeat every` of it, or its end.
public enum Transition: String, Sendable, Hashable, Codable {
    case firing
    case repeating
    case resolved
}

/// Actions emitted by one rule for one device at one evaluation.
public struct Firing: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rule: String
    /// The rule's index in `engine.rules`.
    public var ruleIndex: Int
    public var tuid: String
    /// Evaluation time (the API's clock), Unix seconds.
    public var time: Int64
    /// 1 for the first emission of this (rule, device), then 2, 3, …: `rule:tuid:sequence` is an idempotency
    /// key. A `.resolved` firing carries the sequence of the firing it ends.
    public var sequence: Int
    /// Whether this emission is a `repeat every` of an ongoing firing.
    public var isRepeat: Bool
    public var transition: Transition
    /// `mode shadow`: the caller logs the actions as "would" and carries none of them out.
    public var shadow: Bool
    /// The rule's `severity`, if it gives one.
    public var severity: Severity?
    /// The fields and windows the condition reads, with their values at `time` as text (`?` when unknown).
    public var values: [String: String]
    /// `then` actions (firing, repeating) or `resolve` actions (resolved), in the order the rule lists them.
    public var actions: [Action]

    public init(
        rule: String, ruleIndex: Int, tuid: String, time: Int64, sequence: Int, isRepeat: Bool = false,
        transition: Transition = .firing, shadow: Bool = false, severity: Severity? = nil,
        values: [String: String] = [:], actions: [Action]
    ) {
        self.rule = rule
        self.ruleIndex = ruleIndex
        self.tuid = tuid
        self.time = time
        self.sequence = sequence
        self.isRepeat = isRepeat
        self.transition = transition
        self.shadow = shadow
        self.severity = severity
        self.values = values
        self.actions = actions
    }

    enum CodingKeys: String, CodingKey {
        case rule, ruleIndex, tuid, time, sequence, isRepeat, transition, shadow, severity, values, actions
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rule = try c.decode(String.self, forKey: .rule)
        ruleIndex = try c.decodeIfPresent(Int.self, forKey: .ruleIndex) ?? 0
        tuid = try c.decode(String.self, forKey: .tuid)
        time = try c.decode(Int64.self, forKey: .time)
        sequence = try c.decode(Int.self, forKey: .sequence)
        isRepeat = try c.decodeIfPresent(Bool.self, forKey: .isRepeat) ?? false
        transition = try c.decodeIfPresent(Transition.self, forKey: .transition) ?? (isRepeat ? .repeating : .firing)
        shadow = try c.decodeIfPresent(Bool.self, forKey: .shadow) ?? false
        severity = try c.decodeIfPresent(Severity.self, forKey: .severity)
        values = try c.decodeIfPresent([String: String].self, forKey: .values) ?? [:]
        actions = try c.decode([Action].self, forKey: .actions)
    }

    /// `rule:tuid:sequence`, and `…:resolved` for the end of an episode.
    public var idempotencyKey: String {
        transition == .resolved ? "\(rule):\(tuid):\(sequence):resolved" : "\(rule):\(tuid):\(sequence)"
    }

    public var description: String {
        let verb = shadow ? "would " : ""
        return actions.map { "\(rule) \(tuid): \(verb)\($0)" }.joined(separator: "\n")
    }
}
