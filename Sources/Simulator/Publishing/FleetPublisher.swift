import Foundation
import Stream

/// Publishes the simulated fleet's messages to an MQTT broker as they reach the API in simulated time, as
/// Thingsee's data integration does: one JSON message object per publish, QoS 1, on
/// `cloudext/json/{env}/{country}/{group}/{tuid}/{tsmId}`, command echoes included.
///
/// Every `tick` of real time it publishes what arrived in simulated time since the previous tick, so a message
/// is out at most one tick after REST shows it, never before. Arrival, not `tsmTs`: a message sent while its
/// device's gateway connection is lost is published when the episode ends, with its own (older) `tsmTs`, once.
/// It starts at the simulated time of `start()`: what arrived before is for clients to read over REST (what
/// was withheld then is published when it arrives). Self-contained: it reads the fleet and the clock through
/// closures, so the HTTP server only has to start and stop it.
public actor FleetPublisher {
    public typealias FleetSource = @Sendable () async -> Fleet
    public typealias SimulatedClock = @Sendable () -> Double

    private let publisher: StreamPublisher
    private let fleet: FleetSource
    private let now: SimulatedClock
    private let tick: Duration
    private var loop: Task<Void, Never>?
    /// The simulated arrival time publishing started from (exclusive); nil before `start()`.
    public private(set) var startedAt: Double?
    /// Simulated arrival time published through; nil before `start()`.
    public private(set) var publishedThrough: Double?
    /// Messages handed to the MQTT client since `start()`.
    public private(set) var published = 0
    /// Messages libmosquitto refused (an invalid topic from a group id with `+`, `#` or `/` in it, say).
    public private(set) var refused = 0

    /// - Parameters:
    ///   - publisher: not yet started; `start()` starts it and `stop()` stops it.
    ///   - fleet: the fleet as it stands (commands change what it reports).
    ///   - now: the simulated clock, Unix seconds.
    public init(
        publisher: StreamPublisher, fleet: @escaping FleetSource, now: @escaping SimulatedClock,
        tick: Duration = .milliseconds(100)
    ) {
        self.publisher = publisher
        self.fleet = fleet
        self.now = now
        self.tick = tick
    }

    /// Publishes `server`'s fleet to the broker at `url` (`mqtt://127.0.0.1:PORT`; for `mqtts://` with
    /// certificate files, build the `StreamPublisher` and use the other initialiser).
    /// - Throws: `StreamError` for a URL that is not allowed.
    public init(
        server: SimulatorServer, url: String, clientID: String = "tsee-sim", tick: Duration = .milliseconds(100)
    )
        throws
    {
        let configuration = try StreamConfiguration(url: url, clientID: clientID)
        self.init(
            publisher: StreamPublisher(configuration: configuration), fleet: { await server.fleetSnapshot },
            now: { server.now.timeIntervalSince1970 }, tick: tick)
    }

    /// Connects (in the background) and publishes from now on, every tick, until `stop()`.
    /// - Throws: `StreamError` when the connection settings are refused.
    public func start() async throws {
        try await startWithoutTicking()
        loop = Task { [weak self, tick] in
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                guard let self, !Task.isCancelled else { return }
                await self.publishDue()
            }
        }
    }

    /// Connects and sets the starting point, without the tick loop: the caller calls `publishDue()` itself.
    public func startWithoutTicking() async throws {
        guard publishedThrough == nil else { return }
        try await publisher.start()
        let start = now()
        startedAt = start
        publishedThrough = start
    }

    /// Publishes what arrived between the last publish and now; returns how many messages.
    @discardableResult
    public func publishDue() async -> Int {
        guard let after = publishedThrough else { return 0 }
        let through = now()
        guard through > after else { return 0 }
        // Claimed before the first suspension, so an overlapping call takes the next window, not this one again.
        publishedThrough = through
        let messages = await fleet().streamMessages(after: after, through: through)
        for message in messages {
            do {
                try await publisher.publish(topic: message.topic, payload: Data(message.payload))
                published += 1
            } catch {
                refused += 1
            }
        }
        return messages.count
    }

    /// Waits until the broker has acknowledged everything published; false after `timeout`.
    public func waitUntilDelivered(timeout: Duration) async -> Bool {
        await publisher.waitUntilDelivered(timeout: timeout)
    }

    /// Stops ticking, gives the broker up to `drain` to acknowledge what is in flight, and disconnects.
    public func stop(drain: Duration = .seconds(2)) async {
        loop?.cancel()
        await loop?.value
        loop = nil
        _ = await publisher.waitUntilDelivered(timeout: drain)
        await publisher.stop()
    }
}
