/// The local clock the scheduler waits on: between cycles, for the cycle watchdog, and to time cycles.
///
/// Wraps any `Clock<Duration>` (the continuous clock in `tsee run`, a manual clock in tests) behind a concrete type,
/// so that the scheduler need not be generic and an instant is a plain `Duration` since the clock was wrapped.
public struct SchedulerClock: Sendable {
    private let elapsed: @Sendable () -> Duration
    private let sleeper: @Sendable (Duration) async throws -> Void

    public init<C: Clock<Duration> & Sendable>(_ clock: C) where C.Instant: Sendable {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleeper = { try await clock.sleep(for: $0) }
    }

    /// The continuous clock: real time, counting while the machine sleeps.
    public static var continuous: SchedulerClock { SchedulerClock(ContinuousClock()) }

    /// Time since this clock was made.
    public var now: Duration { elapsed() }

    /// Suspends for `duration`; throws `CancellationError` when the task is cancelled.
    public func sleep(for duration: Duration) async throws {
        try await sleeper(duration)
    }
}

extension Duration {
    /// Seconds as a `Double`, for reports.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
