/// Counters since the subscriber started, for metrics and reports.
public struct StreamStatistics: Sendable, Equatable {
    /// Publishes received.
    public var publishes = 0
    /// Messages delivered in `messages` events.
    public var messages = 0
    /// Messages dropped as already seen.
    public var duplicates = 0
    /// Publishes or items reported as `unusable`.
    public var unusable = 0
    /// Successful connections.
    public var connections = 0

    public init() {}
}
