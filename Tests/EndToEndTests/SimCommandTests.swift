import Foundation
import TestSupport
import Testing

/// `tsee sim` serves the simulator in the foreground, prints how to reach it, and stops on SIGINT.
@Suite struct SimCommandTests {
    @Test func servesUntilInterrupted() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-sim-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = Tsee.binary
        process.arguments = ["sim", "--port", "0", "--devices", "12", "--seed", "3"]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Int32> { continuation in
            process.terminationHandler = { continuation.yield($0.terminationStatus) }
        }
        try process.run()
        var url: String?
        for _ in 0..<100 where url == nil {
            try await Task.sleep(for: .milliseconds(100))
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            url = text.split(separator: "\n").first { $0.hasPrefix("export THINGSEE_BASE_URL=") }
                .map { String($0.dropFirst("export THINGSEE_BASE_URL=".count)) }
        }
        let base = try #require(url)
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.contains("export THINGSEE_CLIENT_ID=sim") && text.contains("serving 12 devices (seed 3)"))
        let groups = try await Tsee.run(
            ["groups", "-o", "jsonl"],
            environment: [
                "THINGSEE_BASE_URL": base, "THINGSEE_CLIENT_ID": "sim", "THINGSEE_CLIENT_SECRET": "sim-secret",
            ])
        #expect(groups.status == 0 && !groups.stdout.isEmpty, "\(groups.stderr)")
        process.interrupt()
        var status: Int32?
        for await s in exited {
            status = s
            break
        }
        #expect(status == 0)
    }

    @Test func publishesTheFleetToABrokerWithMQTT() async throws {
        let broker = try Broker()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-sim-mqtt-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        // Subscribed first; at 600 simulated seconds a second, twelve devices report several times a second.
        let received = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-sub-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: received.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: received) }
        let subscriber = Process()
        subscriber.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        subscriber.arguments = [
            "mosquitto_sub", "-h", "127.0.0.1", "-p", String(broker.port), "-q", "1", "-t", "cloudext/json/#", "-v",
            "-C", "5", "-W", "60",
        ]
        subscriber.standardOutput = try FileHandle(forWritingTo: received)
        subscriber.standardError = FileHandle.nullDevice
        let subscribed = AsyncStream<Int32> { continuation in
            subscriber.terminationHandler = { continuation.yield($0.terminationStatus) }
        }
        try subscriber.run()

        let process = Process()
        process.executableURL = Tsee.binary
        process.arguments = [
            "sim", "--port", "0", "--devices", "12", "--seed", "3", "--time-scale", "600", "--mqtt", broker.url,
        ]
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = FileHandle.nullDevice
        let exited = AsyncStream<Int32> { continuation in
            process.terminationHandler = { continuation.yield($0.terminationStatus) }
        }
        try process.run()
        var subscriberStatus: Int32?
        for await status in subscribed {
            subscriberStatus = status
            break
        }
        process.interrupt()
        var status: Int32?
        for await s in exited {
            status = s
            break
        }
        #expect(subscriberStatus == 0, "mosquitto_sub saw fewer than 5 messages in 60 s")
        #expect(status == 0)
        // `topic payload` lines: one message object each, on its device's data integration topic.
        let lines = try String(contentsOf: received, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let topic = parts[0].split(separator: "/").map(String.init)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(parts.last!.utf8)) as? [String: Any])
            #expect(topic.count == 7 && topic[0] == "cloudext" && topic[1] == "json")
            #expect(object["tsmTuid"] as? String == topic[5] && object["tsmId"] as? Int == Int(topic[6]))
            #expect(object["deploymentGroupId"] as? String == topic[4] && object["tsmTs"] is Int)
        }
    }

    @Test func anMQTTURLItMayNotUseIsAUsageError() async throws {
        let remote = try await Tsee.run(["sim", "--port", "0", "--mqtt", "mqtt://192.0.2.1:1883"])
        #expect(remote.status == 2 && remote.stderr.contains("--mqtt"), "\(remote.stderr)")
        let nonsense = try await Tsee.run(["sim", "--port", "0", "--mqtt", "http://127.0.0.1:1883"])
        #expect(nonsense.status == 2 && nonsense.stderr.contains("--mqtt"), "\(nonsense.stderr)")
    }
}
