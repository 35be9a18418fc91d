/// How `tsee run` polls, evaluates and acts.
public struct SchedulerOptions: Sendable {
    /// Seconds between the starts of two cycles.
    public var interval: Double = 60
    /// Evaluate and log would-be actions; make no mutating request; keep rule state apart from the live state.
    public var dryRun = false
    /// How far back (API clock seconds) the first fetch of a device reaches.
    public var lookback: Int64 = 24 * 3600
    /// Requests in flight at once.
    public var concurrency = 8
    /// A `send command` whose echo has not arrived this long after it was sent is marked unconfirmed.
    public var confirmTimeout: Int64 = 15 * 60
    /// How often facts that change slowly are fetched again: the device list, alerts, installation status and
    /// thing info (API clock seconds). Messages are fetched every cycle.
    public var refresh: Int64 = 10 * 60
    /// Messages per request when paging.
    public var pageSize = 1000
    /// Each fetch re-reads this many seconds before the cursor, so that late, out-of-order messages are seen.
    public var overlap: Int64 = 10 * 60
    /// A cycle in which no device finishes and no request is sent for this long is abandoned with an error.
    public var stallTimeout: Duration = .seconds(300)
    /// A `notify` not delivered (2xx) this long after its firing is given up, and logged as failed (API seconds).
    public var notifyTimeout: Int64 = 3600
    /// A continuous run stops after this many cycles in a row whose login was refused (0: never).
    public var maxAuthFailures = 3
    /// With a stream, how long after a stream step the next one waits, so that the messages arriving meanwhile
    /// are evaluated together (one step's fixed cost shared by many messages). Zero takes each arrival at once.
    /// An arrival after a quiet spell is evaluated at once either way; under a steady stream this bounds the steps
    /// to one per `streamGather` and adds at most that much to the reaction time.
    public var streamGather: Duration = .zero
    /// Devices per save transaction (each device's rule states and snapshot in the same one): a first cycle
    /// changes every device, and encoding all their rows at once held them all in memory together (80 MB of a
    /// 10,000-device cycle's peak).
    public var saveChunk = 1_000

    /// `interval` as a `Duration`.
    public var intervalDuration: Duration { .milliseconds(Int64((interval * 1000).rounded())) }

    public init() {}
}
