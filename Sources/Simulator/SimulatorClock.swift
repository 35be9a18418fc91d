import Foundation

/// The simulated clock: the wall-clock time at start plus elapsed real time × time scale.
struct SimulatorClock: Sendable {
    let origin: Double
    let timeScale: Double
    private let started: ContinuousClock.Instant

    init(timeScale: Double, origin: Double = Date().timeIntervalSince1970) {
        self.origin = origin
        self.timeScale = timeScale
        started = ContinuousClock.now
    }

    /// Simulated Unix seconds.
    func now() -> Double {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return origin + seconds * timeScale
    }
}
