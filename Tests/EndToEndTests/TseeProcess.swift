import Foundation
import Simulator
import TestSupport

/// What one run of the `tsee` binary did.
struct Outcome: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

/// A new, empty folder `PREFIX-UUID` in the temporary directory.
func temporaryFolder(_ prefix: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

/// Runs the built `tsee` binary as a user would: its own process, real HTTP to a simulator on loopback.
enum Tsee {
    /// The binary beside the test bundle (`.build/debug/tsee`), or `$TSEE_BINARY`.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["TSEE_BINARY"] { return URL(fileURLWithPath: path) }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("tsee")
    }()

    /// Runs `tsee ARGS…` with `environment` on top of a clean one (no proxy, no colour, a private state folder).
    /// Output goes to files, not pipes, so a large output can never block the child; waiting never blocks a thread.
    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws
        -> Outcome
    {
        let folder = try temporaryFolder("tsee-e2e")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("out"), err = folder.appendingPathComponent("err")
        let input = folder.appendingPathComponent("in")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        _ = FileManager.default.createFile(atPath: input.path, contents: Data((stdin ?? "").utf8))
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var env = [
            "PATH": "/usr/bin:/bin", "HOME": folder.path, "XDG_STATE_HOME": folder.appendingPathComponent("state").path,
            "no_proxy": "127.0.0.1,localhost", "NO_COLOR": "1", "TERM": "dumb",
        ]
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = try FileHandle(forReadingFrom: input)
        let status = try await exitStatus(of: process, arguments: arguments)
        return Outcome(
            status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// The longest one run may take: far beyond any test's, so reaching it means a hang, reported as such.
    static let runLimit: Duration = .seconds(300)

    /// Starts `process` and returns its exit status, or throws once `runLimit` has passed (the child killed).
    private static func exitStatus(of process: Process, arguments: [String]) async throws -> Int32 {
        let exited = ProcessExit(process)
        try process.run()
        if let status = await exited.status(within: runLimit) { return status }
        // A child that has exited but was never reaped is a zombie ("Z" after the name in /proc/PID/stat).
        let pid = process.processIdentifier
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let zombie = stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        kill(pid, SIGKILL)
        throw RunLimitExceeded(arguments: arguments, zombie: zombie)
    }
}

/// `tsee` did not end within `Tsee.runLimit`; `zombie` when it had exited and only its reaping never came.
struct RunLimitExceeded: Error, CustomStringConvertible {
    let arguments: [String]
    let zombie: Bool
    var description: String {
        "tsee \(arguments.joined(separator: " ")) did not end within \(Tsee.runLimit)"
            + (zombie ? " (it had exited, but its exit was never reported: a descriptor leak to another child?)" : "")
    }
}

/// A simulator for one test, and the environment that points `tsee` at it.
struct Fleet {
    let server: SimulatorServer
    let url: URL

    static func start(_ configure: (inout SimulatorConfiguration) -> Void = { _ in }) async throws -> Fleet {
        var c = SimulatorConfiguration()
        c.port = 0
        c.devices = 40
        c.seed = 1
        configure(&c)
        let server = SimulatorServer(configuration: c)
        return Fleet(server: server, url: try await server.start())
    }

    var environment: [String: String] {
        [
            "THINGSEE_BASE_URL": url.absoluteString, "THINGSEE_CLIENT_ID": "sim",
            "THINGSEE_CLIENT_SECRET": "sim-secret",
        ]
    }

    func tsee(_ arguments: String..., stdin: String? = nil, environment extra: [String: String] = [:]) async throws
        -> Outcome
    {
        try await Tsee.run(arguments, environment: environment.merging(extra) { _, new in new }, stdin: stdin)
    }

    /// Requests the simulator has received, and how many of them were POST/DELETE.
    var requests: (total: Int, mutating: Int) {
        get async {
            let s = await server.stats
            return (s.total, s.mutating)
        }
    }

    /// A sensor that has messages (an environment sensor) and a group with devices. Not one whose gateway
    /// connection is lost: its messages and echoes are withheld until the episode ends.
    var sensor: String {
        let offline = Set(server.alertingTUIDs())
        return server.deviceTUIDs().first { $0.hasPrefix("TSEN01") && !offline.contains($0) }!
    }

    func stop() async { await server.stop() }
}
