import Foundation
import Synchronization

/// What `/healthz` answers: healthy while the scheduler's last cycle ended within three intervals and its login
/// was not refused.
public final class Health: Sendable {
    public struct Verdict: Sendable, Equatable {
        public var healthy: Bool
        public var reason: String
    }

    private struct State {
        var lastCycleEnd: Double?
        var authenticationRefused = false
        var cycles = 0
    }

    private let interval: Double
    private let started: Double
    private let state = Mutex(State())

    /// - Parameters:
    ///   - interval: the scheduler's `--interval`, seconds.
    ///   - started: when the process started (Unix seconds); before the first cycle ends, it has three intervals.
    public init(interval: Double, started: Double) {
        self.interval = interval
        self.started = started
    }

    /// Records a finished cycle, at `at` (Unix seconds).
    public func cycleEnded(at: Double, authenticationRefused: Bool) {
        state.withLock {
            $0.lastCycleEnd = at
            $0.authenticationRefused = authenticationRefused
            $0.cycles += 1
        }
    }

    /// The verdict at `now` (Unix seconds).
    public func verdict(now: Double) -> Verdict {
        let s = state.withLock { $0 }
        let limit = 3 * interval
        if s.authenticationRefused {
            return Verdict(healthy: false, reason: "the last cycle's login was refused (check the client credentials)")
        }
        guard let end = s.lastCycleEnd else {
            let waited = now - started
            return waited <= limit
                ? Verdict(healthy: true, reason: "starting: no cycle has ended yet")
                : Verdict(healthy: false, reason: "no cycle has ended in \(Int(waited)) s since the start")
        }
        let age = now - end
        if age > limit {
            return Verdict(
                healthy: false, reason: "the last cycle ended \(Int(age)) s ago (more than 3 intervals of \(Int(interval)) s)")
        }
        return Verdict(healthy: true, reason: "ok: \(s.cycles) cycles, the last one ended \(Int(age)) s ago")
    }
}
