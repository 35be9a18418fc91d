/// Names one action of one firing: `rule|tuid|sequence|actionIndex|dry`, unique in the action log.
///
/// The scheduler numbers each (rule, device) firing; with the action's index in the rule and the dry-run flag this
/// makes a key that a replayed firing reproduces, so the store can refuse to log it twice.
public struct FiringKey: Sendable, Hashable, CustomStringConvertible {
    public var rule: String
    public var tuid: String
    public var sequence: Int64
    public var actionIndex: Int
    public var dryRun: Bool
    /// The `resolve` actions of the episode that `sequence` started: the key then ends in `:resolved`.
    public var resolved: Bool

    public init(rule: String, tuid: String, sequence: Int64, actionIndex: Int, dryRun: Bool, resolved: Bool = false) {
        self.resolved = resolved
        self.rule = rule
        self.tuid = tuid
        self.sequence = sequence
        self.actionIndex = actionIndex
        self.dryRun = dryRun
    }

    /// The stored text, e.g. `low-battery|TSPD04ESY93100802|3|0|0`.
    public var description: String {
        "\(rule)|\(tuid)|\(sequence)|\(actionIndex)|\(dryRun ? 1 : 0)" + (resolved ? ":resolved" : "")
    }
}
