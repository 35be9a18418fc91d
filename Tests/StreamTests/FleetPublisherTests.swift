import Foundation
import Stream
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

/// The REST history's messages in `(after, through]`, as `tuid:id:ev:ts` keys.
func restKeys(_ fleet: Fleet, after: Double, through: Double) throws -> Set<String> {
    var keys: Set<String> = []
    for tuid in fleet.deviceTUIDs() {
        let query = Fleet.MessageQuery(limit: 10_000, from: after.nextUp, to: through)
        guard case .array(let items) = try fleet.messagesJSON(tuid: tuid, query: query, now: through) else { continue }
        for item in items {
            let id = Int(item["tsmId"]!.number!)
            let event = Int(item["tsmEv"]!.number!)
            let ts = Int(item["tsmTs"]!.number!)
            keys.insert("\(tuid):\(id):\(event):\(ts)")
        }
    }
    return keys
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
        let expected = try restKeys(await box.fleet, after: origin, through: origin + 1_800)
        #expect(count == expected.count && count > 30)
        #expect(await log.wait { $0.messages.count == count })
        let received = await log.messages
        #expect(Set(received.map(\.deduplicationKey)) == expected)
        #expect(await subscriber.statistics.duplicates == 0)
        // Oldest first, and every one on the real layout for its device's group.
        #expect(received.map(\.tsmTs) == received.map(\.tsmTs).sorted())
        for event in await log.events {
            guard case .messages(let batch, let topic) = event else { continue }
            for message in batch {
                let group = try #require(message.deploymentGroupId)
                #expect(topic == "cloudext/json/pr/fi/\(group)/\(message.tsmTuid)/\(message.tsmId)")
            }
        }

        // A command's echo (tsmEv 31, with its transactionId) is published when the device answers.
        let tuid = await box.fleet.deviceTUIDs()[1]
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
        let expected = try restKeys(await server.fleetSnapshot, after: after, through: through)
        #expect(await log.wait { $0.messages.count == expected.count })
        #expect(Set(await log.messages.map(\.deduplicationKey)) == expected)
        #expect(await subscriber.statistics.duplicates == 0)
        #expect(await publisher.published == expected.count)
        await subscriber.stop()
    }
}
