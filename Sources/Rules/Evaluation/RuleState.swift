/// A change of a tracked condition's value, on device time.
public struct TruthChange: Codable, Equatable, Sendable {
    public var time: Int64
    public var truth: Truth

    public init(time: Int64, truth: Truth) {
        self.time = time
        self.truth = truth
    }
}

/// The state machine of one (rule, device) pair. The caller saves it after each evaluation and restores it
/// on start; a restored state behaves exactly as if the engine had never stopped.
public struct RuleState: Codable, Equatable, Sendable {
    public enum Phase: String, Codable, Sendable {
        /// The condition is not true (or, with `clear …`, was cleared).
        case inactive
        /// The condition holds but not yet long enough (or a cooldown is running).
        case pending
        /// The actions ran; the rule waits for the episode to end.
        case firing
    }

    public var phase: Phase = .inactive
    /// The condition's value at `trackedUntil` (the last of `changes`, kept inline so reading it is cheap).
    public var trackedTruth: Truth?

    // Times are stored without Optional's padding (`Int64.min` for none): the states of every device are read
    // at every evaluation, and a smaller state is fewer cache misses.
    private var phaseSinceStorage = Int64.min
    private var holdingSinceStorage = Int64.min
    private var trackedUntilStorage = Int64.min
    private var firedAtStorage = Int64.min
    private var emittedAtStorage = Int64.min
    private var resolvedAtStorage = Int64.min
    private var reportsInARowStorage: Int32 = 0
    private var repeatsDoneStorage: Int32 = 0

    /// How many firings this pair had; numbers firings for idempotency keys.
    public var sequence: Int = 0
    /// The condition's recent changes (bounded), so a late report can be placed in device-time order.
    public var changes: [TruthChange] = []
    /// The `clear when … for D` condition's recent changes.
    public var clearChanges: [TruthChange] = []
    /// The outcome of each of the last M reports (`for N [of M] reports`), oldest first.
    public var reports: [TruthChange] = []

    private static func get(_ value: Int64) -> Int64? { value == .min ? nil : value }

    /// When the current phase was entered (evaluation time).
    public var phaseSince: Int64? {
        get { Self.get(phaseSinceStorage) }
        set { phaseSinceStorage = newValue ?? .min }
    }
    /// Since when, on device time, the `when` condition has been true without interruption.
    public var holdingSince: Int64? {
        get { Self.get(holdingSinceStorage) }
        set { holdingSinceStorage = newValue ?? .min }
    }
    /// The latest device time the condition was tracked at.
    public var trackedUntil: Int64? {
        get { Self.get(trackedUntilStorage) }
        set { trackedUntilStorage = newValue ?? .min }
    }
    /// When the rule last entered `firing` (for `cooldown`).
    public var firedAt: Int64? {
        get { Self.get(firedAtStorage) }
        set { firedAtStorage = newValue ?? .min }
    }
    /// When actions were last emitted, first firing or repeat (for `repeat every`).
    public var emittedAt: Int64? {
        get { Self.get(emittedAtStorage) }
        set { emittedAtStorage = newValue ?? .min }
    }
    /// When the last episode resolved.
    public var resolvedAt: Int64? {
        get { Self.get(resolvedAtStorage) }
        set { resolvedAtStorage = newValue ?? .min }
    }
    /// How many of the latest reports carrying the condition's fields satisfied it, in a row.
    public var reportsInARow: Int {
        get { Int(reportsInARowStorage) }
        set { reportsInARowStorage = Int32(clamping: newValue) }
    }
    /// Repeats emitted during the current firing.
    public var repeatsDone: Int {
        get { Int(repeatsDoneStorage) }
        set { repeatsDoneStorage = Int32(clamping: newValue) }
    }

    public init() {}

    enum CodingKeys: String, CodingKey {
        case phase, phaseSince, holdingSince, trackedUntil, trackedTruth, reportsInARow, firedAt, emittedAt, sequence
        case repeatsDone, resolvedAt, changes, clearChanges, reports
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(phase, forKey: .phase)
        try c.encodeIfPresent(phaseSince, forKey: .phaseSince)
        try c.encodeIfPresent(holdingSince, forKey: .holdingSince)
        try c.encodeIfPresent(trackedUntil, forKey: .trackedUntil)
        try c.encodeIfPresent(trackedTruth, forKey: .trackedTruth)
        try c.encode(reportsInARow, forKey: .reportsInARow)
        try c.encodeIfPresent(firedAt, forKey: .firedAt)
        try c.encodeIfPresent(emittedAt, forKey: .emittedAt)
        try c.encode(sequence, forKey: .sequence)
        try c.encode(repeatsDone, forKey: .repeatsDone)
        try c.encodeIfPresent(resolvedAt, forKey: .resolvedAt)
        try c.encode(changes, forKey: .changes)
        try c.encode(clearChanges, forKey: .clearChanges)
        try c.encode(reports, forKey: .reports)
    }

    /// Decodes tolerantly: state saved by an older tsee keeps its phase and sequence.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        phase = try c.decodeIfPresent(Phase.self, forKey: .phase) ?? .inactive
        phaseSince = try c.decodeIfPresent(Int64.self, forKey: .phaseSince)
        holdingSince = try c.decodeIfPresent(Int64.self, forKey: .holdingSince)
        trackedUntil = try c.decodeIfPresent(Int64.self, forKey: .trackedUntil)
        trackedTruth = try c.decodeIfPresent(Truth.self, forKey: .trackedTruth)
        reportsInARow = try c.decodeIfPresent(Int.self, forKey: .reportsInARow) ?? 0
        firedAt = try c.decodeIfPresent(Int64.self, forKey: .firedAt)
        emittedAt = try c.decodeIfPresent(Int64.self, forKey: .emittedAt)
        sequence = try c.decodeIfPresent(Int.self, forKey: .sequence) ?? 0
        repeatsDone = try c.decodeIfPresent(Int.self, forKey: .repeatsDone) ?? 0
        resolvedAt = try c.decodeIfPresent(Int64.self, forKey: .resolvedAt)
        changes = try c.decodeIfPresent([TruthChange].self, forKey: .changes) ?? []
        clearChanges = try c.decodeIfPresent([TruthChange].self, forKey: .clearChanges) ?? []
        reports = try c.decodeIfPresent([TruthChange].self, forKey: .reports) ?? []
        completeChangesOfAnOlderRow()
    }

    /// A state saved before `changes` existed holds since `holdingSince`: that is its one change. Both readers of
    /// a row (`init(from:)`, `init(jsonRow:decoder:)`) finish with this.
    mutating func completeChangesOfAnOlderRow() {
        if changes.isEmpty, let since = holdingSince { changes = [TruthChange(time: since, truth: .yes)] }
    }

    /// Since when the condition has been not true (false or unknown), per the tracked changes.
    public var notTrueSince: Int64? {
        guard let last = changes.last, last.truth != .yes else { return nil }
        var since = last.time
        for change in changes.reversed() {
            if change.truth == .yes { break }
            since = change.time
        }
        return since
    }

    /// Since when the `clear when` condition has held, per its tracked changes.
    public var clearHoldingSince: Int64? {
        guard let last = clearChanges.last, last.truth == .yes else { return nil }
        return last.time
    }
}
