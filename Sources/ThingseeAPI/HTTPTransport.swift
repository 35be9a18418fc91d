import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import NIOSSL
import Synchronization

/// One HTTP exchange's result.
struct HTTPResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Data

    func header(_ name: String) -> String? { headers.first(name: name) }
}

/// Failures below HTTP: nothing, or nothing usable, came back.
enum TransportFailure: Error, Sendable {
    /// The request never reached the server (connection refused, name not found, connect timed out): safe to send
    /// again, whatever the method.
    case notSent(String)
    /// The request may have reached the server, but no complete answer came back (connection closed or reset
    /// after sending, the total deadline passed): a write may or may not have been applied.
    case lost(String)
    /// The total deadline passed (`lost`, with the reason spelled out by the client).
    case timedOut
    /// TLS refused the server (certificate not trusted, name mismatch, handshake): sending again cannot help.
    case tls(String)
    /// The answer's body is larger than the cap, after decompression.
    case tooLarge
    case cancelled
}

/// Sends requests with AsyncHTTPClient: one `HTTPClient` per transport on the process-wide event loop group, a
/// keep-alive pool of `concurrency` connections to the API's one origin, TLS with the system trust store, no
/// redirects followed, gzip/deflate accepted and inflated with a cap, and a total deadline per request that
/// covers the body.
///
/// Lifecycle: `shutdown()` closes the pool gracefully. A transport dropped without it starts the same shutdown
/// from `deinit` (AsyncHTTPClient keeps itself alive until that completes, so its debug-build assertion against
/// an un-shut-down client never fires). A process that exits without either leaks nothing: the event loop group
/// is the shared singleton, whose threads end with the process.
final class HTTPTransport: Sendable {
    private let client: HTTPClient
    private let timeout: TimeAmount
    private let maximumBodyBytes: Int
    private let isShutDown = Atomic<Bool>(false)
    private let deadlines: DeadlineWatch

    init(configuration: ClientConfiguration, maximumBodyBytes: Int = ClientConfiguration.maximumBodyBytes) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        if !configuration.additionalTrustRoots.isEmpty {
            let extra = configuration.additionalTrustRoots.compactMap {
                try? NIOSSLCertificate(bytes: Array($0.utf8), format: .pem)
            }
            tls.additionalTrustRoots = [.certificates(extra)]
        }
        let nanoseconds = Int64(min(configuration.timeout, 86_400) * 1e9)
        timeout = .nanoseconds(nanoseconds)
        self.maximumBodyBytes = maximumBodyBytes

        var http = HTTPClient.Configuration()
        http.tlsConfiguration = tls
        // Never follow a redirect: the bearer token must not travel to another origin, and an https → http hop
        // must not happen. A 3xx is reported to the caller as it is.
        http.redirectConfiguration = .disallow
        http.timeout = .init(connect: .nanoseconds(min(nanoseconds, 10_000_000_000)), read: nil)
        http.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.concurrency)
        // A refused connection fails its requests at once; the client's own retry loop (with its clock) decides.
        http.connectionPool.retryConnectionEstablishment = false
        http.decompression = .enabled(limit: .size(maximumBodyBytes))
        http.httpVersion = .http1Only
        // No spans: with no tracer bootstrapped, AsyncHTTPClient would still build no-op spans per request
        // (4 % of a request's CPU, measured).
        http.tracing.tracer = nil
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: http)
        deadlines = DeadlineWatch(loop: client.eventLoopGroup.next())
    }

    deinit {
        if !isShutDown.exchange(true, ordering: .acquiringAndReleasing) {
            client.shutdown { _ in }
        }
    }

    /// Closes the connection pool. Requests still in flight fail; later requests fail as not sent.
    func shutdown() async {
        guard !isShutDown.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? await client.shutdown()
    }

    /// Sends `request` and reads its whole body, within the total deadline.
    func send(_ request: HTTPClientRequest) async throws(TransportFailure) -> HTTPResponse {
        let deadline = NIODeadline.now() + timeout
        let expired = Atomic<Bool>(false)
        let work = Task { try await self.exchange(request, deadline: deadline) }
        // The deadline covers the body too (AsyncHTTPClient's own deadline ends with the response head).
        let watch = deadlines.watch(until: deadline) {
            expired.store(true, ordering: .releasing)
            work.cancel()
        }
        let result = await withTaskCancellationHandler {
            await work.result
        } onCancel: {
            work.cancel()
        }
        deadlines.forget(watch)
        switch result {
        case .success(let response):
            return response
        case .failure(let error):
            if expired.load(ordering: .acquiring) { throw .timedOut }
            throw Self.classify(error)
        }
    }

    private func exchange(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPResponse {
        let response = try await client.execute(request, deadline: deadline)
        let cap = maximumBodyBytes
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > cap {
            throw TransportFailure.tooLarge
        }
        var body = ByteBuffer()
        for try await chunk in response.body {
            guard body.readableBytes + chunk.readableBytes <= cap else { throw TransportFailure.tooLarge }
            var chunk = chunk
            body.writeBuffer(&chunk)
        }
        // A cancelled body stream may end early instead of throwing: never take that for a whole answer.
        try Task.checkCancellation()
        let data = body.withUnsafeReadableBytes { Data($0) }
        return HTTPResponse(status: Int(response.status.code), headers: response.headers, body: data)
    }

    /// Sorts an error from below HTTP into what the client needs to decide on: was the request sent, may it be
    /// sent again, and what to tell the user.
    static func classify(_ error: any Error) -> TransportFailure {
        switch error {
        case let failure as TransportFailure:
            return failure
        case is CancellationError:
            return .cancelled
        case let e as HTTPClientError:
            switch e {
            case .cancelled: return .cancelled
            case .deadlineExceeded, .readTimeout: return .timedOut
            case .connectTimeout, .getConnectionFromPoolTimeout: return .notSent("connection timed out")
            case .tlsHandshakeTimeout: return .tls("TLS handshake timed out")
            case .remoteConnectionClosed: return .lost("the connection closed before the answer was complete")
            case .alreadyShutdown: return .notSent("the client was shut down")
            case .invalidURL, .emptyHost, .emptyScheme: return .notSent("invalid URL")
            case .bodyLengthMismatch: return .lost("the answer's body did not have the announced length")
            default: return .lost("HTTP failure: \(e.shortDescription.lowercased())")
            }
        case let e as NIOConnectionError:
            if e.connectionErrors.isEmpty { return .notSent("host not found: \(e.host)") }
            if e.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) {
                return .notSent("connection refused")
            }
            return .notSent("cannot connect to \(e.host): \(e.connectionErrors.map { "\($0.error)" }.first ?? "")")
        case let e as ChannelError:
            if case .connectTimeout = e { return .notSent("connection timed out") }
            return .lost("the connection failed: \(e)")
        case let e as IOError:
            switch e.errnoCode {
            case ECONNREFUSED: return .notSent("connection refused")
            case ENETUNREACH, EHOSTUNREACH: return .notSent("network unreachable")
            case ECONNRESET: return .lost("connection reset by the server")
            case EPIPE: return .lost("connection closed by the server while sending")
            default: return .lost("\(e)")
            }
        case let e as NIOHTTPDecompression.DecompressionError:
            if e == .limit { return .tooLarge }
            return .lost("the compressed answer could not be inflated")
        case let e as NIOSSLExtraError:
            if e == .failedToValidateHostname {
                return .tls("certificate name mismatch: the server's certificate is not valid for this host")
            }
            return .tls("TLS failed: \(e)")
        case let e as NIOSSLError:
            return .tls(describeTLS(e))
        case let e as BoringSSLError:
            return .tls(describeTLS(e))
        default:
            return .lost(String(describing: error))
        }
    }

    private static func describeTLS(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "certificate not trusted: the server's certificate does not chain to a trusted authority"
                + " (or has expired)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("wrong version number") {
            return "TLS handshake failed: the server does not speak TLS on this port"
        }
        return "TLS handshake failed (\(text))"
    }
}

/// The total deadlines of the requests in flight, checked ten times a second by one timer that runs only while
/// some request is in flight. Cheaper than a timer per request, which costs two wake-ups of an event loop (to
/// arm and to cancel it); a deadline fires at most 100 ms late.
final class DeadlineWatch: Sendable {
    private struct Entry {
        let deadline: NIODeadline
        let expire: @Sendable () -> Void
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 0
        var sweeping = false
    }

    private let loop: any EventLoop
    private let interval = TimeAmount.milliseconds(100)
    private let state = Mutex(State())

    init(loop: any EventLoop) {
        self.loop = loop
    }

    /// Calls `expire` once `deadline` has passed, unless `forget` is called first.
    func watch(until deadline: NIODeadline, expire: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, start) = state.withLock { s -> (UInt64, Bool) in
            s.nextID += 1
            s.entries[s.nextID] = Entry(deadline: deadline, expire: expire)
            defer { s.sweeping = true }
            return (s.nextID, !s.sweeping)
        }
        if start {
            loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] task in sweep(task) }
        }
        return id
    }

    func forget(_ id: UInt64) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func sweep(_ task: RepeatedTask) {
        let now = NIODeadline.now()
        let (due, idle) = state.withLock { s -> ([Entry], Bool) in
            var due: [Entry] = []
            for (id, entry) in s.entries where entry.deadline <= now {
                due.append(entry)
                s.entries.removeValue(forKey: id)
            }
            if s.entries.isEmpty { s.sweeping = false }
            return (due, !s.sweeping)
        }
        if idle { task.cancel() }
        for entry in due { entry.expire() }
    }
}
