import Foundation
import Stream
import TestSupport
import Testing

/// A message object as the data integration sends it.
func messageJSON(_ tuid: String, id: Int = 12100, event: Int = 10, ts: Int, extra: String = "\"temp\":21.5") -> String {
    "{\"tsmId\":\(id),\"tsmEv\":\(event),\"tsmTs\":\(ts),\"tsmTuid\":\"\(tuid)\",\"tsmGw\":\"TSGW01ABC00000001\",\(extra)}"
}

let sampleTopic = "cloudext/json/pr/fi/prfi00testgroup/TSPD04ABC00000001/12100"

/// A subscriber and a publisher on one broker, stopped at the end.
func withBrokerClients(
    broker: Broker, clientID: String = "tsee-test-\(UUID().uuidString.prefix(8))",
    _ body: (StreamSubscriber, EventLog, StreamPublisher) async throws -> Void
) async throws {
    let subscriber = StreamSubscriber(configuration: try fastConfiguration(broker.url, clientID: clientID))
    let log = EventLog(try await subscriber.start())
    let publisher = StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: clientID + "-pub"))
    try await publisher.start()
    do {
        #expect(await log.wait { !$0.connections.isEmpty }, "the subscriber never connected: \(broker.log)")
        #expect(await publisher.waitUntilConnected(timeout: .seconds(10)))
        try await body(subscriber, log, publisher)
    } catch {
        await publisher.stop()
        await subscriber.stop()
        throw error
    }
    await publisher.stop()
    await subscriber.stop()
}

/// Short reconnect delays, so tests of outages take well under a second per attempt.
func fastConfiguration(
    _ url: String, clientID: String, protocolVersion: StreamConfiguration.ProtocolVersion = .v311
) throws -> StreamConfiguration {
    var configuration = try StreamConfiguration(url: url, clientID: clientID, protocolVersion: protocolVersion)
    configuration.reconnectDelay = .milliseconds(50)
    configuration.maximumReconnectDelay = .milliseconds(400)
    return configuration
}

@Suite("Stream subscriber against a real mosquitto")
struct SubscriberTests {
    @Test func objectAndArrayPayloadsArriveDecoded() async throws {
        let broker = try Broker()
        try await withBrokerClients(broker: broker) { _, log, publisher in
            try await publisher.publish(
                topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_000).utf8))
            let array =
                "[" + messageJSON("TSPD04ABC00000002", ts: 1_700_000_010) + ","
                + messageJSON(
                    "TSPD04ABC00000002", id: 1500, event: 31, ts: 1_700_000_020, extra: "\"transactionId\":42") + "]"
            try await publisher.publish(
                topic: "cloudext/json/pr/fi/prfi00testgroup/TSPD04ABC00000002/12100", payload: Data(array.utf8))
            #expect(await log.wait { $0.messages.count == 3 })
            let messages = await log.messages
            #expect(messages.map(\.tsmTuid) == ["TSPD04ABC00000001", "TSPD04ABC00000002", "TSPD04ABC00000002"])
            #expect(messages.map(\.tsmTs) == [1_700_000_000, 1_700_000_010, 1_700_000_020])
            #expect(messages[2].tsmEv == 31 && messages[2].transactionId == 42 && messages[2].tsmId == 1500)
            // The group comes from the topic when the message has none; the raw object is kept for the decoder.
            #expect(messages[0].deploymentGroupId == "prfi00testgroup")
            #expect(
                String(decoding: messages[0].json, as: UTF8.self) == messageJSON("TSPD04ABC00000001", ts: 1_700_000_000)
            )
            #expect(
                await log.events.contains(
                    .messages(
                        [messages[1], messages[2]], topic: "cloudext/json/pr/fi/prfi00testgroup/TSPD04ABC00000002/12100"
                    )))
        }
    }

    @Test func duplicatesAreDropped() async throws {
        let broker = try Broker()
        try await withBrokerClients(broker: broker) { subscriber, log, publisher in
            let first = messageJSON("TSPD04ABC00000001", ts: 1_700_000_000)
            let second = messageJSON("TSPD04ABC00000001", ts: 1_700_000_060)
            // The same message three times (once inside an array with a new one), then a marker.
            try await publisher.publish(topic: sampleTopic, payload: Data(first.utf8))
            try await publisher.publish(topic: sampleTopic, payload: Data(first.utf8))
            try await publisher.publish(topic: sampleTopic, payload: Data("[\(first),\(second)]".utf8))
            // Milliseconds and a different property do not make it a new message: the key is tuid:id:ev:ts.
            try await publisher.publish(
                topic: sampleTopic,
                payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_060_000, extra: "\"temp\":99").utf8))
            let marker = messageJSON("TSPD04ABC00000009", ts: 1_700_000_100)
            try await publisher.publish(topic: sampleTopic, payload: Data(marker.utf8))
            #expect(await log.wait { $0.messages.contains { $0.tsmTuid == "TSPD04ABC00000009" } })
            let messages = await log.messages
            #expect(
                messages.map(\.deduplicationKey) == [
                    "TSPD04ABC00000001:12100:10:1700000000", "TSPD04ABC00000001:12100:10:1700000060",
                    "TSPD04ABC00000009:12100:10:1700000100",
                ])
            let statistics = await subscriber.statistics
            #expect(statistics.duplicates == 3)
            #expect(statistics.publishes == 5)
        }
    }

    @Test func malformedPayloadsAreReportedAndTheStreamGoesOn() async throws {
        let broker = try Broker()
        try await withBrokerClients(broker: broker) { subscriber, log, publisher in
            let bad = [
                "{\"tsmId\": 12100, \"tsmTuid\": ",  // truncated
                "not json at all",
                "42",
                "[]",
                "",
                String(repeating: "[", count: 10_000),  // deeper than any real payload
                "{\"tsmId\":12100,\"tsmEv\":18,\"tsmTuid\":\"TSPD04ABC00000001\"}",  // network-down event: no tsmTs
            ]
            for payload in bad {
                try await publisher.publish(topic: sampleTopic, payload: Data(payload.utf8))
            }
            // An array with one unusable item (an outgoing command row): the good item still arrives.
            let mixed =
                "[{\"tsmId\":1500,\"tsmEv\":30,\"tsmTs\":1700000000,\"tsmDstTuid\":\"TSPD04ABC00000001\"},"
                + messageJSON("TSPD04ABC00000001", ts: 1_700_000_001) + "]"
            try await publisher.publish(topic: sampleTopic, payload: Data(mixed.utf8))
            #expect(await log.wait { $0.unusable.count == bad.count + 1 && $0.messages.count == 1 })
            let reasons = await log.unusable
            #expect(reasons[0].hasPrefix("not valid JSON"))
            #expect(reasons[6] == "tsmTs is missing")
            #expect(reasons[7] == "1 of 2 messages unusable: item 0: tsmTuid is missing")
            #expect(await log.messages.first?.tsmTs == 1_700_000_001)
            #expect(await subscriber.statistics.unusable == bad.count + 1)
        }
    }
}
