import Foundation
import Synchronization

/// A TCP proxy on a free loopback port that a test uses to cut one client off from a server (PostgreSQL): the
/// network partition of a scheduler from its database, under the test's control.
///
/// - ``cut()``: every connection through the proxy is closed, and new ones are closed as soon as they are accepted
///   (the server is unreachable), until ``heal()``.
/// - ``hold()``: nothing is forwarded either way, on open connections or new ones (a black hole: the packets are
///   delayed, not lost, as TCP retransmits them), until ``heal()``, which delivers what was held.
/// - ``hold(afterClientSends:)``: the same, from the moment the client sends the given text (an SQL statement,
///   which PostgreSQL's protocol carries verbatim): that message still reaches the server, and the server's answer
///   to it is the first thing held. This puts a partition at an exact point of the client's work, so that a test of
///   what happens between a query's answer and the client's next step needs no timing.
/// - ``cut(whenClientSends:)``: a cut at the moment the client sends the given text; that message is not passed on.
///
/// Plain sockets and threads of its own, two per connection (one each way), so that nothing here waits on, or
/// holds, the threads of Swift's task pool: a blocked forwarder must never starve the code under test.
public final class PartitionProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case open, holding, cut
    }

    /// Where clients connect.
    public let port: Int
    private let upstreamPort: Int
    private let listener: Int32

    private struct State {
        var mode = Mode.open
        /// With ``hold(afterClientSends:)`` or ``cut(whenClientSends:)``: the text that starts the partition.
        var trigger: [UInt8]?
        /// What the trigger starts: ``Mode/holding`` or ``Mode/cut``.
        var triggerMode = Mode.holding
        /// Whether an armed trigger fired.
        var triggered = false
        var connections: [Int: (client: Int32, server: Int32)] = [:]
        var nextID = 0
        var stopped = false
        /// Connections accepted, for reports.
        var accepted = 0
    }
    private let state = Mutex(State())

    /// Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:`upstreamPort`.
    public init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BrokerError("proxy: socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw BrokerError("proxy: cannot listen on 127.0.0.1")
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "partition-proxy-accept"
        thread.start()
    }

    // MARK: What the test controls

    public var mode: Mode { state.withLock { $0.mode } }

    /// Whether the trigger of ``hold(afterClientSends:)`` has fired.
    public var triggered: Bool { state.withLock { $0.triggered } }

    /// Connections accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// Closes every connection and refuses new ones until ``heal()``.
    public func cut() {
        let open = state.withLock { s in
            s.mode = .cut
            s.trigger = nil
            return Array(s.connections.values)
        }
        for pair in open {
            shutdown(pair.client, Int32(SHUT_RDWR))
            shutdown(pair.server, Int32(SHUT_RDWR))
        }
    }

    /// Forwards nothing, either way, until ``heal()``.
    public func hold() {
        state.withLock { s in
            s.mode = .holding
            s.trigger = nil
        }
    }

    /// Holds everything from the moment a client sends `text` (see the type's description).
    public func hold(afterClientSends text: String) {
        state.withLock { s in
            s.trigger = Array(text.utf8)
            s.triggerMode = .holding
            s.triggered = false
        }
    }

    /// Cuts every connection, and refuses new ones until ``heal()``, the moment a client sends `text` (which the
    /// server never receives).
    public func cut(whenClientSends text: String) {
        state.withLock { s in
            s.trigger = Array(text.utf8)
            s.triggerMode = .cut
            s.triggered = false
        }
    }

    /// Forwards again; what was held is delivered.
    public func heal() {
        state.withLock { s in
            s.mode = .open
            s.trigger = nil
        }
    }

    /// Waits (on a thread of its own, polling every 10 ms) until the trigger fires; false after `timeout`.
    public func waitUntilTriggered(timeout: Duration = .seconds(60)) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread { [self] in
                let deadline = ContinuousClock.now + timeout
                while !triggered && ContinuousClock.now < deadline { usleep(10_000) }
                continuation.resume(returning: triggered)
            }.start()
        }
    }

    /// Closes the listener and every connection; call it when done (the accepting thread keeps the proxy alive).
    public func stop() {
        let open = state.withLock { s -> [(client: Int32, server: Int32)] in
            guard !s.stopped else { return [] }
            s.stopped = true
            return Array(s.connections.values)
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for pair in open {
            shutdown(pair.client, Int32(SHUT_RDWR))
            shutdown(pair.server, Int32(SHUT_RDWR))
        }
    }

    // MARK: Forwarding

    private func acceptLoop() {
        defer { close(listener) }
        while !state.withLock({ $0.stopped }) {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let (refuse, id) = state.withLock { s -> (Bool, Int) in
                s.accepted += 1
                s.nextID += 1
                return (s.mode == .cut || s.stopped, s.nextID)
            }
            if refuse {
                close(client)
                continue
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard server >= 0, connected == 0 else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            var yes: Int32 = 1
            for fd in [client, server] {
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            }
            state.withLock { $0.connections[id] = (client, server) }
            let ends = Countdown(2)
            let finished: @Sendable () -> Void = { [self] in
                // The second direction to end closes both sockets (closing earlier could hand a reused descriptor
                // to the other direction's thread).
                guard ends.reachesZero() else { return }
                state.withLock { _ = $0.connections.removeValue(forKey: id) }
                close(client)
                close(server)
            }
            let up = Thread { [self] in
                forward(from: client, to: server, watchesTrigger: true)
                finished()
            }
            let down = Thread { [self] in
                forward(from: server, to: client, watchesTrigger: false)
                finished()
            }
            up.start()
            down.start()
        }
    }

    /// Copies bytes one way until either end closes; while held, reads nothing (the kernel buffers what arrives).
    private func forward(from source: Int32, to destination: Int32, watchesTrigger: Bool) {
        defer {
            shutdown(source, Int32(SHUT_RDWR))
            shutdown(destination, Int32(SHUT_RDWR))
        }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        // The end of the previous chunk, so that a trigger split across two reads is still seen.
        var tail: [UInt8] = []
        while true {
            let mode = state.withLock { $0.stopped ? Mode.cut : $0.mode }
            switch mode {
            case .cut: return
            case .holding:
                usleep(5_000)
                continue
            case .open: break
            }
            var poller = pollfd(fd: source, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 20) > 0 else { continue }
            // The mode may have changed while waiting: held bytes stay unread.
            if state.withLock({ $0.mode }) != .open { continue }
            let count = read(source, &buffer, buffer.count)
            guard count > 0 else { return }
            let chunk = Array(buffer[0..<count])
            if watchesTrigger {
                let seen = tail + chunk
                let started = state.withLock { s -> Mode? in
                    guard let trigger = s.trigger, Self.contains(seen, trigger) else { return nil }
                    // Held before this message is passed on, so the server's answer to it cannot slip through.
                    s.mode = s.triggerMode
                    s.trigger = nil
                    s.triggered = true
                    return s.mode
                }
                if started == .cut {
                    cut()
                    return
                }
                tail = Array(seen.suffix(256))
            }
            var sent = 0
            while sent < chunk.count {
                let n = chunk[sent...].withUnsafeBytes { write(destination, $0.baseAddress, $0.count) }
                guard n > 0 else { return }
                sent += n
            }
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// Counts down from a number, across threads.
private final class Countdown: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }
    /// Counts one; true for the call that reaches zero.
    func reachesZero() -> Bool {
        left.withLock { n in
            n -= 1; return n == 0
        }
    }
}
