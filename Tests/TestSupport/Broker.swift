import Foundation

/// A real `mosquitto` on a free loopback port, with its config, logs and persistence in a temporary directory
/// (for the stream tests and the end-to-end tests of `tsee sim --mqtt`).
///
/// Persistence is on, so a restart (`restart()`) keeps the sessions and the QoS 1 messages queued for them,
/// as a production broker does.
public final class Broker: @unchecked Sendable {
    /// Set once in `init`; `process` is only touched by the test that owns the broker.
    public let directory: URL
    public let port: Int
    public let tls: TLSFiles?
    private var pid: pid_t?

    public struct TLSFiles: Sendable {
        public let ca: String
        public let serverCertificate: String
        public let serverKey: String
        public let clientCertificate: String
        public let clientKey: String
    }

    /// - Parameter extraConfiguration: lines added to `mosquitto.conf` (`acl_file …`, say).
    public init(tls: Bool = false, extraConfiguration: String = "") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-mqtt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freeLoopbackPort()
        self.tls = tls ? try Certificates.make(in: directory) : nil
        var config = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory.path)/
            log_dest file \(directory.path)/mosquitto.log
            log_type all

            """
        if geteuid() == 0 { config += "user root\n" }
        config += extraConfiguration
        if let files = self.tls {
            config += """
                cafile \(files.ca)
                certfile \(files.serverCertificate)
                keyfile \(files.serverKey)
                require_certificate true
                tls_version tlsv1.2

                """
        }
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    public var url: String { "\(tls == nil ? "mqtt" : "mqtts")://127.0.0.1:\(port)" }

    /// Starts mosquitto and waits (bounded) until it accepts TCP connections.
    public func start() throws {
        let pid = try spawn(
            try mosquittoExecutable().path, ["-c", directory.appendingPathComponent("mosquitto.conf").path])
        self.pid = pid
        let deadline = ContinuousClock.now + .seconds(10)
        while !acceptsConnections() {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0, ContinuousClock.now < deadline else {
                throw BrokerError("mosquitto did not start on port \(port): \(log)")
            }
            usleep(20_000)
        }
    }

    /// SIGTERM (mosquitto saves its persistence file) and waits for the exit.
    public func stop() {
        guard let pid else { return }
        self.pid = nil
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    }

    public func restart() throws {
        stop()
        try start()
    }

    public var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("mosquitto.log"), encoding: .utf8)) ?? ""
    }

    private func acceptsConnections() -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

public struct BrokerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Starts a program with an empty signal mask, default signal actions and only descriptors 0–2 open. Foundation's `Process` passes on the
/// spawning thread's mask, and the test runner's threads block SIGTERM, which mosquitto then never sees.
/// Standard output and error go to `output` (created or truncated), or to /dev/null.
public func spawn(_ path: String, _ arguments: [String], output: String? = nil) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if let output {
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    } else {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    }
    // Nothing else of the test process is inherited. Descriptors are not close-on-exec by default, and Foundation's
    // `Process` learns that a child ended when the child's end of a socket pair closes: a broker or a PostgreSQL
    // server started while another test was starting `tsee` kept that end open, the `tsee` child was never reaped,
    // and its test waited for ever.
    closeDescriptorsFromThree(&actions)
    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var pid: pid_t = 0
    let code = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
    guard code == 0 else { throw BrokerError("could not start \(path): \(String(cString: strerror(code)))") }
    return pid
}

/// Adds to `actions` the closing of every descriptor from 3 up. glibc 2.34's
/// `posix_spawn_file_actions_addclosefrom_np` closes them in the child at exec time, so a descriptor another thread
/// opened a moment before the spawn is closed too; Swift's Glibc module does not export that GNU extension, so it
/// is looked up by name. Where it is missing, the descriptors open now (listed in /proc/self/fd) are closed.
func closeDescriptorsFromThree(_ actions: inout posix_spawn_file_actions_t) {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    if let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") {
        _ = unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, 3)
        return
    }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap({ Int32($0) }) where fd >= 3 { posix_spawn_file_actions_addclose(&actions, fd) }
}

private func mosquittoExecutable() throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"] {
        let candidate = URL(fileURLWithPath: directory).appendingPathComponent("mosquitto")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw BrokerError("mosquitto is not installed (scripts/deps.sh installs Debian's mosquitto)")
}

/// A port the system just handed out on 127.0.0.1; free again once the probe socket is closed.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BrokerError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw BrokerError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw BrokerError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A throwaway CA and the server and client certificates it signs, made with `openssl`.
enum Certificates {
    static func make(in directory: URL) throws -> Broker.TLSFiles {
        let d = directory.path
        let san = directory.appendingPathComponent("san.cnf")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(to: san, atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(
            ["req", "-x509"] + ec + [
                "-keyout", "\(d)/ca.key", "-out", "\(d)/ca.pem", "-days", "2",
                "-subj", "/CN=tsee test CA",
            ])
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=tsee-test-client")] {
            try openssl(["req"] + ec + ["-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr", "-subj", subject])
            var sign = [
                "x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/ca.pem", "-CAkey", "\(d)/ca.key",
                "-CAcreateserial", "-out", "\(d)/\(name).pem", "-days", "2",
            ]
            if name == "server" { sign += ["-extfile", san.path] }
            try openssl(sign)
        }
        return Broker.TLSFiles(
            ca: "\(d)/ca.pem", serverCertificate: "\(d)/server.pem", serverKey: "\(d)/server.key",
            clientCertificate: "\(d)/client.pem", clientKey: "\(d)/client.key")
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let exited = ProcessExit(process)
        try process.run()
        guard exited.wait() == 0 else {
            throw BrokerError("openssl \(arguments.prefix(2).joined(separator: " ")) failed")
        }
    }
}
