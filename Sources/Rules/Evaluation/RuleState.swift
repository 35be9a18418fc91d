/// The state machine of one (rule, device) pair. The caller saves it after each evaluation and restores it
/// on start; a restored state behaves exactly as if the engine had never stopped.
public struct RuleState: Codable, Equatable, Sendable {
    public enum Phase: String, Codable, Sendable {
        /// The condition is false (or, with `clear when`, was cleared).
        case inactive
        /// The condition holds but not yet long enough (or a cooldown is running).
        case pending
        /// The actions ran; the rule waits for the condition to end.
        case firing
    }

    public var phase: Phase = .inactive
    /// When the current phase was entered (evaluation time).
    public var phaseSince: Int64?
    /// Since when, on device time, the `when` condition has held without interruption (`for DURATION`).
    public var holdingSince: Int64?
    /// The latest device time the condition was tracked at.
    public var trackedUntil: Int64?
    /// How many of the latest messages carrying the condition's fields satisfied it (`for N reports`).
    public var reportsInARow: Int = 0
    /// When the rule last entered `firing` (for `cooldown`).
    public var firedAt: Int64?
    /// When actions were last emitted, first firing or repeat (for `repeat every`).
    public var emittedAt: Int64?
    /// How many times actions were emitted for this pair; numbers firings for idempotency keys.
    public var sequence: Int = 0
    /// Repeats emitted during the current firing.
    public var repeatsDone: Int = 0

    public init() {}
}
