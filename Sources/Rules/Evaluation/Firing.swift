/// Actions emitted by one rule for one device at one evaluation.
public struct Firing: Sendable, Hashable, Codable, CustomStringConvertible {
    public var rule: String
    public var tuid: String
    /// Evaluation time (the API's clock), Unix seconds.
    public var time: Int64
    /// 1 for the first emission of this (rule, device), then 2, 3, …: `rule:tuid:sequence` is an idempotency key.
    public var sequence: Int
    /// Whether this emission is a `repeat every` of an ongoing firing.
    public var isRepeat: Bool
    /// `mode shadow`: the caller logs the actions as "would" and carries none of them out.
    public var shadow: Bool
    public var actions: [Action]

    public var idempotencyKey: String { "\(rule):\(tuid):\(sequence)" }

    public var description: String {
        let verb = shadow ? "would " : ""
        return actions.map { "\(rule) \(tuid): \(verb)\($0)" }.joined(separator: "\n")
    }
}
