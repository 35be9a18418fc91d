import Foundation
import TestSupport
import Testing

@testable import Stream

@Suite("Stream connections: restarts, persistent sessions, TLS")
struct ConnectionTests {
    @Test func aBrokerRestartIsReportedAndTheStreamResumes() async throws {
        let broker = try Broker()
        try await withBrokerClients(broker: broker) { _, log, publisher in
            try await publisher.publish(
                topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_000).utf8))
            #expect(await log.wait { $0.messages.count == 1 })
            broker.stop()
            #expect(await log.wait { !$0.disconnections.isEmpty })
            #expect(await log.wait { $0.events.contains { if case .reconnecting = $0 { true } else { false } } })
            try broker.start()
            // The broker kept the session across its restart (persistence), and says so.
            #expect(await log.wait { $0.connections == [false, true] })
            #expect(await publisher.waitUntilConnected(timeout: .seconds(10)))
            try await publisher.publish(
                topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_060).utf8))
            #expect(await log.wait { $0.messages.count == 2 })
            #expect(await log.messages.map(\.tsmTs) == [1_700_000_000, 1_700_000_060])
            // Order on the one stream: connected, message, disconnected, reconnecting…, connected, message.
            let kinds = await log.events.map(kind)
            let first = try #require(kinds.firstIndex(of: "disconnected"))
            let second = try #require(kinds.lastIndex(of: "connected"))
            #expect(kinds.prefix(2) == ["connected", "messages"])
            #expect(first < second && kinds[first...second].contains("reconnecting"))
            #expect(kinds.last == "messages")
        }
    }

    @Test(arguments: [StreamConfiguration.ProtocolVersion.v311, .v5])
    func messagesPublishedWhileAwayArriveAfterReconnecting(version: StreamConfiguration.ProtocolVersion) async throws {
        let broker = try Broker()
        let clientID = "tsee-offline-\(UUID().uuidString.prefix(8))"
        let configuration = try fastConfiguration(broker.url, clientID: clientID, protocolVersion: version)

        // The first run subscribes (creating the session), then goes away.
        let first = StreamSubscriber(configuration: configuration)
        let firstLog = EventLog(try await first.start())
        #expect(await firstLog.wait { $0.connections == [false] })
        try await waitForSubscription(broker: broker, clientID: clientID)
        await first.stop()

        // Three messages while nobody listens, then a broker restart on top.
        let publisher = StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: clientID + "-pub"))
        try await publisher.start()
        for ts in [1_700_000_000, 1_700_000_060, 1_700_000_120] {
            try await publisher.publish(
                topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: ts).utf8))
        }
        #expect(await publisher.waitUntilDelivered(timeout: .seconds(10)))
        await publisher.stop()
        try broker.restart()

        // The same client id finds its session and gets all three, once each.
        let second = StreamSubscriber(configuration: configuration)
        let secondLog = EventLog(try await second.start())
        #expect(await secondLog.wait { $0.messages.count == 3 })
        #expect(await secondLog.connections == [true])
        #expect(await secondLog.messages.map(\.tsmTs) == [1_700_000_000, 1_700_000_060, 1_700_000_120])
        await second.stop()
    }

    /// The first connection attempt fails; the session settings (MQTT 5's expiry) still hold for the later ones.
    @Test(arguments: [StreamConfiguration.ProtocolVersion.v311, .v5])
    func aSubscriberStartedBeforeTheBrokerConnectsWhenItComes(version: StreamConfiguration.ProtocolVersion)
        async throws
    {
        let broker = try Broker()
        broker.stop()
        let clientID = "tsee-early-\(UUID().uuidString.prefix(8))"
        let configuration = try fastConfiguration(broker.url, clientID: clientID, protocolVersion: version)
        let first = StreamSubscriber(configuration: configuration)
        let firstLog = EventLog(try await first.start())
        #expect(await firstLog.wait { !$0.disconnections.isEmpty && !$0.reconnectDelays.isEmpty })
        try broker.start()
        #expect(await firstLog.wait { $0.connections == [false] })
        try await waitForSubscription(broker: broker, clientID: clientID)
        await first.stop()

        let publisher = StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: clientID + "-pub"))
        try await publisher.start()
        try await publisher.publish(
            topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_000).utf8))
        #expect(await publisher.waitUntilDelivered(timeout: .seconds(10)))
        await publisher.stop()

        let second = StreamSubscriber(configuration: configuration)
        let secondLog = EventLog(try await second.start())
        #expect(await secondLog.wait { $0.messages.count == 1 })
        #expect(await secondLog.connections == [true])
        await second.stop()
    }

    @Test func messagesPublishedWhileTheBrokerIsDownAreSentOnceItIsBack() async throws {
        let broker = try Broker()
        try await withBrokerClients(broker: broker) { _, log, _ in
            broker.stop()
            #expect(await log.wait { !$0.disconnections.isEmpty })
            // A publisher that has never been connected: libmosquitto queues the QoS 1 message.
            let publisher = StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: "tsee-late-pub"))
            try await publisher.start()
            try await publisher.publish(
                topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_000).utf8))
            #expect(await publisher.isConnected == false)
            #expect(await publisher.unacknowledged == 1)
            try broker.start()
            #expect(await publisher.waitUntilDelivered(timeout: .seconds(10)))
            #expect(await log.wait { $0.messages.count == 1 })
            await publisher.stop()
        }
    }

    @Test func tlsWithAClientCertificate() async throws {
        let broker = try Broker(tls: true)
        let files = try #require(broker.tls)
        let id = "tsee-tls-\(UUID().uuidString.prefix(8))"
        func configuration(_ clientID: String) throws -> StreamConfiguration {
            var configuration = try fastConfiguration(broker.url, clientID: clientID)
            configuration.certificateFile = files.clientCertificate
            configuration.keyFile = files.clientKey
            configuration.caFile = files.ca
            return configuration
        }
        let subscriber = StreamSubscriber(configuration: try configuration(id))
        let log = EventLog(try await subscriber.start())
        #expect(await log.wait { !$0.connections.isEmpty })
        let publisher = StreamPublisher(configuration: try configuration(id + "-pub"))
        try await publisher.start()
        #expect(await publisher.waitUntilConnected(timeout: .seconds(10)))
        try await publisher.publish(
            topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: 1_700_000_000).utf8))
        #expect(await log.wait { $0.messages.count == 1 })
        await publisher.stop()
        await subscriber.stop()

        // Without the client certificate the broker (require_certificate true) refuses every attempt.
        var anonymous = try configuration(id + "-anonymous")
        anonymous.certificateFile = nil
        anonymous.keyFile = nil
        let refused = StreamSubscriber(configuration: anonymous)
        let refusedLog = EventLog(try await refused.start())
        #expect(
            await refusedLog.wait {
                $0.events.contains { if case .reconnecting(let attempt, _) = $0 { attempt >= 2 } else { false } }
            })
        #expect(await refusedLog.connections.isEmpty)
        // Each attempt waits twice as long as the one before, up to the maximum (50 ms … 400 ms here).
        #expect(await refusedLog.wait { $0.reconnectDelays.count >= 5 })
        let delays = await refusedLog.reconnectDelays
        #expect(Array(delays.prefix(5)) == [50, 100, 200, 400, 400].map { Duration.milliseconds($0) })
        // The reason carries OpenSSL's words ("…alert certificate required"), so an operator sees why.
        // Under load the broker's reset can reach the client before the alert does, and that attempt reads only
        // "connection lost"; over the attempts the alert is read.
        #expect(await refusedLog.wait { $0.disconnections.contains { $0.contains("certificate required") } })
        await refused.stop()
    }

    /// mosquitto's ACLs grant every subscription and filter at delivery, so the refusal (AWS IoT Core answers
    /// a SUBACK of 0x80 for a filter its policy denies) is fed to the translator directly.
    @Test func aFilterThePolicyRefusesIsReported() async {
        let (raw, feed) = AsyncStream.makeStream(of: MosquittoEvent.self)
        let translator = EventTranslator(
            events: raw, topics: ["cloudext/json/pr/#", "cloudext/json/dm/#", "x/#"], window: 10)
        feed.yield(.subscribed(granted: [1, 0x80, 1]))
        feed.finish()
        #expect(await translator.next() == .subscriptionRefused(topics: ["cloudext/json/dm/#"]))
        #expect(await translator.next() == nil)
    }

    @Test func plainTextIsRefusedToAnyHostButLoopback() async throws {
        for url in ["mqtt://127.0.0.1:1883", "mqtt://127.10.20.30", "mqtt://localhost:1883", "mqtt://[::1]:1883"] {
            #expect(throws: Never.self, "\(url)") { try StreamConfiguration(url: url, clientID: "tsee") }
        }
        for url in [
            "mqtt://192.0.2.10:1883", "mqtt://10.0.0.1", "mqtt://broker.example.com",
            "mqtt://127.0.0.1.example.com", "mqtt://[::ffff:192.0.2.10]", "mqtt://[2001:db8::1]:1883",
        ] {
            let error = try #require(throws: StreamError.self, "\(url)") {
                try StreamConfiguration(url: url, clientID: "tsee")
            }
            #expect(error.kind == .plainTextNotLoopback)
            #expect(error.message.contains("mqtts://"))
        }
        // Nor can a configuration be edited into one: start() checks again, before any connection exists.
        var configuration = try StreamConfiguration(url: "mqtt://127.0.0.1:1883", clientID: "tsee")
        configuration.broker.host = "192.0.2.10"
        let subscriber = StreamSubscriber(configuration: configuration)
        let error = try await #require(throws: StreamError.self) { _ = try await subscriber.start() }
        #expect(error.kind == .plainTextNotLoopback)
        // TLS to a remote host is fine.
        #expect(throws: Never.self) {
            try StreamConfiguration(url: "mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com", clientID: "tsee")
        }
    }

    /// Two members of one shared subscription: the broker hands each message to one of them, never to both.
    @Test func aSharedSubscriptionSplitsTheStreamBetweenItsMembers() async throws {
        let broker = try Broker()
        let group = "tsee-share-\(UUID().uuidString.prefix(8))"
        var members: [(StreamSubscriber, EventLog)] = []
        for n in 0..<2 {
            let configuration = try fastConfiguration(broker.url, clientID: "\(group)-\(n)").shared(group: group)
            #expect(configuration.protocolVersion == .v5)
            #expect(configuration.subscriptions == ["$share/\(group)/cloudext/json/#"])
            let subscriber = StreamSubscriber(configuration: configuration)
            let log = EventLog(try await subscriber.start())
            try await waitForSubscription(broker: broker, clientID: "\(group)-\(n)")
            members.append((subscriber, log))
        }
        let publisher = StreamPublisher(configuration: try fastConfiguration(broker.url, clientID: group + "-pub"))
        try await publisher.start()
        let sent = (0..<40).map { 1_700_000_000 + $0 * 60 }
        for ts in sent {
            try await publisher.publish(topic: sampleTopic, payload: Data(messageJSON("TSPD04ABC00000001", ts: ts).utf8))
        }
        #expect(await publisher.waitUntilDelivered(timeout: .seconds(10)))
        let (first, second) = (members[0].1, members[1].1)
        let deadline = ContinuousClock.now + .seconds(10)
        var received: [[Int64]] = []
        repeat {
            received = [await first.messages.map(\.tsmTs), await second.messages.map(\.tsmTs)]
            if received[0].count + received[1].count >= sent.count { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        #expect(Set(received[0] + received[1]) == Set(sent.map(Int64.init)))
        #expect(received[0].count + received[1].count == sent.count, "a message reached both members")
        #expect(!received[0].isEmpty && !received[1].isEmpty, "\(received.map(\.count))")
        await publisher.stop()
        for (subscriber, _) in members { await subscriber.stop() }
        #expect(throws: StreamError.self) {
            try StreamConfiguration(url: "mqtt://127.0.0.1", clientID: "tsee").shared(group: "a/b")
        }
    }

    @Test func badSettingsAreRefusedUpFront() throws {
        #expect(throws: StreamError.self) { try StreamConfiguration(url: "http://127.0.0.1:1883", clientID: "tsee") }
        #expect(throws: StreamError.self) { try StreamConfiguration(url: "mqtts://host/path", clientID: "tsee") }
        #expect(throws: StreamError.self) { try StreamConfiguration(url: "mqtt://127.0.0.1", clientID: "") }
        #expect(throws: StreamError.self) {
            try StreamConfiguration(url: "mqtt://127.0.0.1", clientID: "tsee", topics: ["cloudext/#/json"])
        }
        let missing = try #require(throws: StreamError.self) {
            try StreamConfiguration(
                url: "mqtts://127.0.0.1", clientID: "tsee", certificateFile: "/nonexistent/cert.pem",
                keyFile: "/nonexistent/key.pem")
        }
        #expect(missing.kind == .tlsFiles && missing.message.contains("/nonexistent/cert.pem"))
        let half = try #require(throws: StreamError.self) {
            try StreamConfiguration(url: "mqtts://127.0.0.1", clientID: "tsee", certificateFile: "/etc/hostname")
        }
        #expect(half.kind == .tlsFiles)
        let defaults = try StreamConfiguration(url: "mqtts://example.com", clientID: "tsee")
        #expect(defaults.broker == .init(host: "example.com", port: 8883, usesTLS: true))
        #expect(defaults.topics == ["cloudext/json/#"])
        #expect(try StreamConfiguration(url: "mqtt://localhost", clientID: "t").broker.port == 1883)
    }
}

private func kind(_ event: StreamEvent) -> String {
    switch event {
    case .connected: "connected"
    case .disconnected: "disconnected"
    case .reconnecting: "reconnecting"
    case .subscriptionRefused: "subscriptionRefused"
    case .messages: "messages"
    case .unusable: "unusable"
    }
}

/// The broker logs each SUBACK it sends; waits (bounded) until it has sent the one for `clientID`.
private func waitForSubscription(broker: Broker, clientID: String) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !broker.log.contains("Sending SUBACK to \(clientID)") {
        guard ContinuousClock.now < deadline else { throw BrokerError("no SUBACK for \(clientID): \(broker.log)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}
