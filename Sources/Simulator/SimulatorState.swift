import Foundation
import Synchronization

/// What every request handler shares: the fleet, the tokens, the counters and the fault dice, behind one lock.
///
/// Handlers run on the server's event loops; a lock held for the length of one fleet call costs less than a hop
/// to an actor per request, and keeps each request's reads and writes atomic as the actor did.
final class SimulatorState: Sendable {
    struct Values {
        var fleet: Fleet
        var tokens: [String: ContinuousClock.Instant] = [:]
        var stats = SimulatorStats()
        /// API requests seen by the failure injection (`failEvery` counts these).
        var apiRequests = 0
        var failureDice: SplitMix64
        var malformedDice: SplitMix64
        var ambiguousDice: SplitMix64
        var successfulReads = 0
        var ambiguousWrites = 0
        var emptyWriteBodies = 0
        /// Times of the requests let through in the last real second, oldest first.
        var recentRequests: [ContinuousClock.Instant] = []
    }

    let configuration: SimulatorConfiguration
    let clock: SimulatorClock
    private let values: Mutex<Values>

    init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        let clock = SimulatorClock(timeScale: configuration.timeScale)
        self.clock = clock
        var fleet = Fleet(
            devices: configuration.devices, seed: configuration.seed, origin: clock.origin,
            echoDelay: configuration.echoDelay)
        fleet.pageCap = configuration.pageCap
        fleet.badItemRate = configuration.badItemRate
        let seed = configuration.seed
        values = Mutex(
            Values(
                fleet: fleet,
                failureDice: SplitMix64(seed: SplitMix64.hash(seed, "failures".key)),
                malformedDice: SplitMix64(seed: SplitMix64.hash(seed, "malformed".key)),
                ambiguousDice: SplitMix64(seed: SplitMix64.hash(seed, "ambiguous".key))))
    }

    func withLock<T: Sendable>(_ body: (inout Values) throws -> T) rethrows -> T {
        try values.withLock { values in try body(&values) }
    }

    func count(_ update: (inout SimulatorStats) -> Void) {
        values.withLock { update(&$0.stats) }
    }
}

extension SplitMix64 {
    /// The next value as a uniform `0..<1`.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) / Double(1 << 53)
    }
}
