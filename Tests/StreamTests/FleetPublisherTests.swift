import Foundation
import Stream
import TestSupport
import Testing

@testable import Simulator

/// A simulated clock the test moves by hand.
final class ManualClock: @unchecked Sendable {
    /// Guarded by `lock`.
    private var value: Double
    private let lock = NSLock()

    init(_ value: Double) { self.value = value }

    func now() -> Double { lock.withLock { value } }
    func set(_ newValue: Double) { lock.withLock { value = newValue } }
}

/// The fleet a test changes (commands) while the publisher reads it.
actor FleetBox {
    var fleet: Fleet
    init(_ fleet: Fleet) { self.fleet = fleet }

    func send(_ tuid: String, transactionID: Int, reportInterval: Int, at time: Double) throws {
        let command = JSON.object([
            ("tsmId", .int(1500)), ("tsmEv", .int(30)), ("transactionId", .int(transactionID)),
            ("measurementInterval", .int(60)), ("reportInterval", .int(reportInterval)),
        ])
        _ = try fleet.sendCommands(tuid: tuid, body: .array([command]), now: time)
    }
}

/// The REST history's messages with `tsmTs` in `(after, through]` as a client reads them at `now` (default
/// `through`), as `tuid:id:ev:ts` keys.
func restKeys(_ fleet: Fleet, after: Double, through: Double, now: Double? = nil) throws -> Set<String> {
    var keys: Set<String> = []
    for tuid in fleet.deviceTUIDs() {
        let query = Fleet.MessageQuery(limit: 100_000, from: after.nextUp, to: through)
        guard case .raw(let page) = try fleet.messagesJSON(tuid: tuid, query: query, now: now ?? through),
            let items = try JSONSerialization.jsonObject(with: Data(page)) as? [[String: Any]]
        else { continue }
        for item in items {
            let id = try #require(item["tsmId"] as? Int)
            let event = try #require(item["tsmEv"] as? Int)
            let ts = try #require(item["tsmTs"] as? Int)
            keys.insert("\(tuid):\(id):\(event):\(ts)")
        }
    }
    return keys
}

/// What the REST history gains between a read at `after` and one at `through`: the messages that reach the API
/// in `(after, through]`, those a gateway-connection-lost episode withheld included (with their older `tsmTs`;
/// no message is withheld longer than an episode lasts, six hours).
func arrivedKeys(_ fleet: Fleet, after: Double, through: Double) throws -> Set<String> {
    let horizon = after - 6 * 3_600
    return try restKeys(fleet, after: horizon, through: through)
        .subtracting(restKeys(fleet, after: horizon, through: after))
}

@Suite("The simulator publishes its fleet on the data integration topics")
struct FleetPublisherTests {
    @Test func aWindowIsPublishedOnceEachOnItsTopicWithEchoes() async throws {
        let broker = try Broker()
        let origin = 1_700_000_000.0
        let box = FleetBox(Fleet(devices: 30, seed: 7, origin: origin))
        let clock = ManualClock(origin)
        let subscriber = StreamSubscriber(configuration: try fastConfiguration(broker.url, clientID: "tsee-sim-test"))
        let log = EventLog(try await subscriber.start())
        #expect(await log.wait { !$0.connections.isEmpty })
        let publisher = FleetPublisher(
            publisher: StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: "tsee-sim")),
            fleet: { await box.fleet }, now: clock.now)
        try await publisher.startWithoutTicking()

        // Half an hour of simulated time: exactly the messages the REST history has for it, once each.
        clock.set(origin + 1_800)
        let count = await publisher.publishDue()
        let expected = try arrivedKeys(await box.fleet, after: origin, through: origin + 1_800)
        #expect(count == expected.count && count > 30)
        #expect(await log.wait { $0.messages.count == count })
        let received = await log.messages
        #expect(Set(received.map(\.deduplicationKey)) == expected)
        #expect(await subscriber.statistics.duplicates == 0)
        // In order of arrival, oldest first among those arriving together, and every one on the real layout for
        // its device's group.
        let fleet = await box.fleet
        let tuids = fleet.deviceTUIDs()
        let order = try received.map { message in
            let index = try #require(tuids.firstIndex(of: message.tsmTuid))
            return [fleet.arrival(of: Double(message.tsmTs), device: index), Double(message.tsmTs)]
        }
        #expect(order == order.sorted { $0.lexicographicallyPrecedes($1) })
        for event in await log.events {
            guard case .messages(let batch, let topic) = event else { continue }
            for message in batch {
                let group = try #require(message.deploymentGroupId)
                #expect(topic == "cloudext/json/pr/fi/\(group)/\(message.tsmTuid)/\(message.tsmId)")
            }
        }

        // A command's echo (tsmEv 31, with its transactionId) is published when the device answers (a device whose
        // gateway connection is not lost then: the episodes have a test of their own).
        let offline = Set(fleet.tuidsWithOpenAlert(at: origin + 1_800 + 3))
        let tuid = try #require(tuids.dropFirst().first { !offline.contains($0) })
        try await box.send(tuid, transactionID: 4242, reportInterval: 120, at: origin + 1_800)
        clock.set(origin + 1_800 + 10)
        await publisher.publishDue()
        #expect(await log.wait { $0.messages.contains { $0.tsmEv == 31 } })
        let echo = try #require(await log.messages.first { $0.tsmEv == 31 })
        #expect(echo.tsmTuid == tuid && echo.tsmId == 1500 && echo.transactionId == 4242)
        #expect(echo.tsmTs == Int64(origin) + 1_800 + 3)  // the simulator's default echo delay
        let properties = try JSONSerialization.jsonObject(with: echo.json) as? [String: Any]
        #expect(properties?["reportInterval"] as? Int == 120)
        await publisher.stop()
        await subscriber.stop()
    }

    @Test func whatAGatewayConnectionLostEpisodeWithheldIsPublishedOnceWhenItEnds() async throws {
        let broker = try Broker()
        let origin = 1_700_000_000.0
        let box = FleetBox(Fleet(devices: 30, seed: 7, origin: origin))
        // The fleet always has a sensor whose gateway connection is lost at its origin: found from its episodes.
        let initial = await box.fleet
        let tuid = try #require(initial.tuidsWithOpenAlert(at: origin).first)
        let index = try #require(initial.deviceTUIDs().firstIndex(of: tuid))
        let episode = try #require(initial.openEpisodes(initial.devices[index], at: origin).first)
        #expect(episode.from < origin && episode.to > origin + 20)
        let clock = ManualClock(origin)
        let subscriber = StreamSubscriber(configuration: try fastConfiguration(broker.url, clientID: "tsee-gap-test"))
        let log = EventLog(try await subscriber.start())
        #expect(await log.wait { !$0.connections.isEmpty })
        let publisher = FleetPublisher(
            publisher: StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: "tsee-sim-gap")),
            fleet: { await box.fleet }, now: clock.now)
        try await publisher.startWithoutTicking()
        // A command during the episode: its echo is withheld with the device's reports.
        try await box.send(tuid, transactionID: 77, reportInterval: 300, at: origin + 10)
        let echoKey = "\(tuid):1500:31:\(Int(origin) + 13)"

        var published: Set<String> = []
        var total = 0
        var releasedWhenItEnded: Set<String>?
        var now = origin
        let end = episode.to + 900
        while now < end {
            let previous = now
            now = min(end, now + 277)  // ticks that fall on no report time and on the episode's end only by chance
            clock.set(now)
            let count = await publisher.publishDue()
            total += count
            let sent = total
            #expect(await log.wait { $0.messages.count == sent })
            let tick = await log.messages.dropFirst(total - count).map(\.deduplicationKey)
            // Each tick publishes exactly what the REST history gained in it: never before REST shows a message,
            // each once.
            #expect(Set(tick) == (try arrivedKeys(await box.fleet, after: previous, through: now)))
            #expect(Set(tick).count == tick.count && published.isDisjoint(with: tick))
            published.formUnion(tick)
            let device = Set(tick.filter { $0.hasPrefix(tuid + ":") })
            if now < episode.to {
                #expect(device.isEmpty, "nothing of the device while its gateway connection is lost")
                #expect(!(try restKeys(await box.fleet, after: origin, through: now)).contains(echoKey))
            } else if previous < episode.to {
                releasedWhenItEnded = device
            }
        }

        // When the episode ends, everything it withheld arrives at once with its own tsmTs, the echo among it.
        let released = try #require(releasedWhenItEnded)
        let fleet = await box.fleet
        let withheld = try restKeys(fleet, after: episode.from - 0.5, through: episode.to - 0.5, now: end)
            .filter { $0.hasPrefix(tuid + ":") }
        #expect(withheld.count > 2 && withheld.contains(echoKey))
        #expect(withheld.isSubset(of: released))
        let echo = try #require(await log.messages.first { $0.tsmTuid == tuid && $0.tsmEv == 31 })
        #expect(echo.transactionId == 77 && echo.tsmTs == Int64(origin) + 13)
        // The whole run: the REST history's messages that arrived in it, each published once.
        #expect(published == (try arrivedKeys(fleet, after: origin, through: end)))
        #expect(await publisher.published == published.count)
        #expect(await subscriber.statistics.duplicates == 0)
        await publisher.stop()
        await subscriber.stop()
    }

    @Test func theTickLoopLeavesNoGapAndNoDouble() async throws {
        let broker = try Broker()
        var configuration = SimulatorConfiguration()
        configuration.devices = 20
        configuration.timeScale = 600
        let server = SimulatorServer(configuration: configuration)
        let subscriber = StreamSubscriber(configuration: try fastConfiguration(broker.url, clientID: "tsee-loop-test"))
        let log = EventLog(try await subscriber.start())
        #expect(await log.wait { !$0.connections.isEmpty })
        let publisher = try FleetPublisher(server: server, url: broker.url, tick: .milliseconds(20))
        try await publisher.start()
        #expect(await log.wait(timeout: .seconds(30)) { $0.messages.count >= 40 })
        await publisher.stop()
        let after = try #require(await publisher.startedAt)
        let through = try #require(await publisher.publishedThrough)
        // Many ticks, one window: what the ticks published is the REST history of the whole span.
        let expected = try arrivedKeys(await server.fleetSnapshot, after: after, through: through)
        #expect(await log.wait { $0.messages.count == expected.count })
        #expect(Set(await log.messages.map(\.deduplicationKey)) == expected)
        #expect(await subscriber.statistics.duplicates == 0)
        #expect(await publisher.published == expected.count)
        await subscriber.stop()
    }
}
