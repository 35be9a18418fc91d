import Foundation
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
}
