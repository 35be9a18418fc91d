/// One row of the `cycles` table; ``summary`` is nil while the cycle runs (or if it never finished).
public struct CycleRecord: Sendable, Hashable {
    public var id: Int64
    /// Unix seconds.
    public var startedAt: Int64
    public var dryRun: Bool
    public var summary: CycleSummary?

    public init(id: Int64, startedAt: Int64, dryRun: Bool, summary: CycleSummary?) {
        self.id = id
        self.startedAt = startedAt
        self.dryRun = dryRun
        self.summary = summary
    }
}
