import Foundation
import Synchronization

/// A real, throwaway PostgreSQL: a cluster made by `initdb` in a temporary directory, run by `pg_ctl` on a free
/// loopback port, stopped (and its directory removed) when the test process exits.
///
/// Installs nothing: it finds Debian's `initdb` and `pg_ctl` (`/usr/lib/postgresql/N/bin`, or `PATH`);
/// `scripts/deps.sh` installs `postgresql`. As root it runs them as the `postgres` user (`initdb` refuses root).
/// TCP logins need the password (SCRAM), so the tests exercise the password path a deployment uses.
public final class PostgresServer: Sendable {
    public let directory: URL
    public let port: Int
    public let user = "tsee"
    /// The superuser's password, random per cluster.
    public let password: String
    private let binaries: URL
    private let runAs: String?

    /// The one cluster of this test process, started on first use.
    public static func shared() throws -> PostgresServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try PostgresServer()
            server = started
            atexit { PostgresServer.stopShared() }
            return started
        }
    }

    /// ``shared()`` and a new database, on a thread of their own: starting a cluster takes seconds of blocking
    /// waits, which must not hold the few threads that run the test process's tasks (and its simulators).
    public static func sharedDatabase() async throws -> (server: PostgresServer, database: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { let server = try shared(); return (server, try server.makeDatabase()) })
            }.start()
        }
    }

    private static let sharedServer = Mutex<PostgresServer?>(nil)

    private static func stopShared() {
        sharedServer.withLock { server in
            server?.stop()
            server = nil
        }
    }

    public init() throws {
        binaries = try Self.findBinaries()
        runAs = geteuid() == 0 ? "postgres" : nil
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("tsee-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        password = UUID().uuidString
        let passwordFile = directory.appendingPathComponent("pwfile").path
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if let runAs {
            guard let entry = getpwnam(runAs) else {
                throw BrokerError("there is no `\(runAs)` user to run PostgreSQL as (install Debian's postgresql)")
            }
            for path in [directory.path, passwordFile] { chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) }
        }
        let data = directory.appendingPathComponent("data").path
        try run(
            "initdb",
            [
                "-D", data, "-U", user, "--pwfile", passwordFile, "--auth-local=trust", "--auth-host=scram-sha-256",
                "-E", "UTF8", "--locale=C.UTF-8", "--no-sync",
            ])
        try run(
            "pg_ctl",
            [
                "-D", data, "-l", directory.appendingPathComponent("server.log").path, "-w", "-t", "30", "-o",
                "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off "
                    + "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start",
            ])
    }

    /// A new, empty database on this server, for one test.
    public func makeDatabase(_ prefix: String = "t") throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try run("createdb", ["-h", directory.path, "-p", String(port), "-U", user, name])
        return name
    }

    /// `postgres://tsee@127.0.0.1:PORT/DATABASE` (the password is given apart, as tsee requires).
    public func url(database: String, sslMode: String? = nil) -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)" + (sslMode.map { "?sslmode=\($0)" } ?? "")
    }

    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    /// Stops the server at once and removes its directory.
    public func stop() {
        try? run("pg_ctl", ["-D", directory.appendingPathComponent("data").path, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs one of the server's programs to its end (as `postgres` when root); throws with its output on failure.
    private func run(_ program: String, _ arguments: [String]) throws {
        let executable = binaries.appendingPathComponent(program).path
        let output = directory.appendingPathComponent("\(program).out").path
        let argv = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] } ?? [executable]
        let status = try spawnAndWait(argv + arguments, output: output)
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw BrokerError("\(program) exited with status \(status): \(text)\n\(log)")
        }
    }

    private static func findBinaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let bin = URL(fileURLWithPath: String(directory))
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path)
                && FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path)
            {
                return bin
            }
        }
        throw BrokerError("PostgreSQL's initdb and pg_ctl are not installed (scripts/deps.sh installs postgresql)")
    }
}

/// Runs a program with an empty signal mask (see `spawn` in Broker.swift), its output to `output`, to its end.
func spawnAndWait(_ argv: [String], output: String) throws -> Int32 {
    let pid = try spawn(argv[0], Array(argv.dropFirst()), output: output)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}
