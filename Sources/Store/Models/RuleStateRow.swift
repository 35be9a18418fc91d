import Foundation

/// The saved state machine of one (rule, device) pair; dry-run state is kept apart from live state.
public struct RuleStateRow: Sendable, Hashable {
    public var rule: String
    public var tuid: String
    public var dryRun: Bool
    /// Opaque to the store: the rules engine's own encoding (JSON, typically).
    public var state: Data
    /// Unix seconds, local clock. Nil when writing: the store sets it to now.
    public var updatedAt: Int64?

    public init(rule: String, tuid: String, dryRun: Bool, state: Data, updatedAt: Int64? = nil) {
        self.rule = rule
        self.tuid = tuid
        self.dryRun = dryRun
        self.state = state
        self.updatedAt = updatedAt
    }
}
