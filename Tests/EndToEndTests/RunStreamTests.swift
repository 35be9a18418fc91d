import Foundation
import Simulator
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

@Suite("tsee run --mqtt, the built binary")
struct RunStreamTests {
    @Test func streamsMessagesAndSaysSoInTheMetricsAndTheCycleLine() async throws {
        let broker = try Broker()
        let fleet = try await Fleet.start {
            $0.devices = 20
            $0.timeScale = 60
        }
        let publisher = try FleetPublisher(server: fleet.server, url: broker.url, tick: .milliseconds(50))
        try await publisher.start()
        let folder = try temporaryFolder("tsee-run-mqtt")
        defer { try? FileManager.default.removeItem(at: folder) }
        let err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        try "rule seen: when temp > -100 then log \"{tuid}\"\n".write(
            to: folder.appendingPathComponent("seen.rules"), atomically: true, encoding: .utf8)
        let metricsPort = try freeLoopbackPort()

        let process = Process()
        process.executableURL = Tsee.binary
        // Cycles every 2 s keep the API's clock (read from the answers) within tolerance of a 60× fleet.
        process.arguments = [
            "run", folder.appendingPathComponent("seen.rules").path, "--db", folder.appendingPathComponent("t.db").path,
            "--mqtt", broker.url, "--interval", "2s", "--metrics-listen", "127.0.0.1:\(metricsPort)",
        ]
        process.environment = fleet.environment.merging([
            "PATH": "/usr/bin:/bin", "HOME": folder.path, "XDG_STATE_HOME": folder.appendingPathComponent("state").path,
            "no_proxy": "127.0.0.1,localhost", "NO_COLOR": "1",
        ]) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: err)
        let exited = AsyncStream<Int32> { continuation in
            process.terminationHandler = { continuation.yield($0.terminationStatus) }
        }
        try process.run()

        // Connected, and messages counted from the stream: as the metrics say.
        let deadline = ContinuousClock.now + .seconds(60)
        var metrics = ""
        var streamed = 0
        while ContinuousClock.now < deadline {
            if let (data, _) = try? await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
            {
                metrics = String(decoding: data, as: UTF8.self)
                streamed = Self.value(of: "tsee_messages_total{source=\"stream\"}", in: metrics) ?? 0
                if streamed > 0, Self.value(of: "tsee_stream_connected", in: metrics) == 1 { break }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Two more cycles (every 2 s) while the stream is up: neither polls messages.
        let messagesRoute = await fleet.server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0
        func liveCycles() -> Int {
            ((try? String(contentsOf: err, encoding: .utf8)) ?? "").components(separatedBy: "stream live)").count - 1
        }
        let cyclesBefore = liveCycles()
        while liveCycles() < cyclesBefore + 2, ContinuousClock.now < deadline + .seconds(30) {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(liveCycles() >= cyclesBefore + 2)
        let messagesLater = await fleet.server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0
        process.interrupt()
        var status: Int32?
        for await s in exited {
            status = s
            break
        }
        await publisher.stop(drain: .zero)
        await fleet.stop()
        let stderr = try String(contentsOf: err, encoding: .utf8)
        #expect(streamed > 0 && Self.value(of: "tsee_stream_connected", in: metrics) == 1, "\(metrics)\n\(stderr)")
        #expect(status == 0, "\(stderr)")
        #expect(messagesLater == messagesRoute, "messages were polled while the stream was up")
        #expect(stderr.contains("stream live)"), "\(stderr)")
        #expect(stderr.contains("stream mqtt://127.0.0.1:\(broker.port)"), "\(stderr)")
    }

    @Test func aPlainStreamToAnotherHostIsRefusedBeforeAnythingIsSent() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let folder = try temporaryFolder("tsee-run-mqtt")
        defer { try? FileManager.default.removeItem(at: folder) }
        try "rule seen: when temp > -100 then log \"{tuid}\"\n".write(
            to: folder.appendingPathComponent("seen.rules"), atomically: true, encoding: .utf8)
        let run = try await fleet.tsee(
            "run", folder.appendingPathComponent("seen.rules").path, "--db", folder.path + "/t.db",
            "--mqtt", "mqtt://192.0.2.1:1883")
        #expect(run.status == 2 && run.stderr.contains("loopback"), "\(run.stderr)")
        #expect(await fleet.requests.total == 0)
        let halfPair = try await fleet.tsee(
            "run", folder.appendingPathComponent("seen.rules").path, "--db", folder.path + "/t.db",
            "--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-cert", folder.path + "/seen.rules")
        #expect(halfPair.status == 2 && halfPair.stderr.contains("key"), "\(halfPair.stderr)")
    }

    /// A sample's value in the Prometheus text format.
    static func value(of series: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)).map { Int($0) }
        }
        return nil
    }
}
