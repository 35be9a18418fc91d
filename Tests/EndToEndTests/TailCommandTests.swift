import Foundation
import Simulator
import TestSupport
import Testing

@Suite("tsee tail, the built binary")
struct TailCommandTests {
    @Test func followsTheStreamAndEndsWithStatusZeroOnSIGINT() async throws {
        let broker = try Broker()
        let fleet = try await Fleet.start {
            $0.devices = 20
            $0.timeScale = 120
        }
        let publisher = try FleetPublisher(server: fleet.server, url: broker.url, tick: .milliseconds(50))
        try await publisher.start()
        let folder = try temporaryFolder("tsee-tail")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)

        let process = Process()
        process.executableURL = Tsee.binary
        process.arguments = ["tail", "--mqtt", broker.url, "--id", "12100", "-o", "jsonl"]
        process.environment = fleet.environment.merging([
            "PATH": "/usr/bin:/bin", "HOME": folder.path, "XDG_STATE_HOME": folder.appendingPathComponent("state").path,
            "no_proxy": "127.0.0.1,localhost", "NO_COLOR": "1",
        ]) { _, new in new }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let exited = AsyncStream<Int32> { continuation in
            process.terminationHandler = { continuation.yield($0.terminationStatus) }
        }
        try process.run()

        // Three environment messages, as they are published: then Ctrl-C.
        let deadline = ContinuousClock.now + .seconds(60)
        var lines: [Substring] = []
        while ContinuousClock.now < deadline {
            lines = ((try? String(contentsOf: out, encoding: .utf8)) ?? "").split(separator: "\n")
            if lines.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.interrupt()
        var status: Int32?
        for await s in exited {
            status = s
            break
        }
        await publisher.stop(drain: .zero)
        await fleet.stop()
        #expect(lines.count >= 3, "\((try? String(contentsOf: err, encoding: .utf8)) ?? "")")
        #expect(status == 0)
        for line in lines.prefix(3) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["tsmId"] as? Int == 12100 && object["tsmTuid"] is String && object["temp"] != nil)
        }
        #expect(try String(contentsOf: err, encoding: .utf8).contains("tail: following cloudext/json/#"))
    }

    @Test func streamFilesWithoutAStreamAreAUsageError() async throws {
        let outcome = try await Tsee.run(["tail", "--mqtt-cert", "/nonexistent.pem", "--sim"])
        #expect(outcome.status == 2 && outcome.stderr.contains("--mqtt"), "\(outcome.stderr)")
        let plain = try await Tsee.run(["tail", "--mqtt", "mqtt://192.0.2.1:1883", "--sim"])
        #expect(plain.status == 2 && plain.stderr.contains("loopback"), "\(plain.stderr)")
    }
}
