import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The Thingsee Open Service API simulator, served over HTTP (Hummingbird) on loopback.
///
/// Every endpoint of the API document is served under `/prod/v1`, with the calls Haltian's own clients add
/// (`/things/alerts`, `/things/alerts/count`, `GET /things/{tuid}/group`, `POST /groups/{id}/rename`), plus
/// `GET /_sim/stats` (no token) with the request counters. Every response carries the simulated clock in its
/// `Date` header.
///
/// Faults and variants are middleware, each present only when configured, outermost first: the counters; the
/// trickled body; latency (every request but `/_sim`); the rate limit (token requests included, as a gateway
/// throttles everything); 503 failures (API requests only, unknown routes included: never `/auth/client-token`,
/// so a client can always log in); 403 for unknown routes; malformed, endless or gzip-bomb bodies for successful
/// reads; ambiguous answers and empty bodies for successful writes. Authentication and the endpoint come last.
///
/// Not modelled: duplicated delivery, `tsmEv` other than 10 and 31 (but for the unusable items of
/// `badItemRate`), history of a device's group (messages carry its current group), daylight saving time in
/// office hours, and per-model acceptance of commands (every device takes every configuration id).
public actor SimulatorServer {
    public nonisolated let configuration: SimulatorConfiguration
    nonisolated let state: SimulatorState
    private nonisolated let tuids: [String]
    private var serverTask: Task<Void, Never>?
    private var serviceGroup: ServiceGroup?
    private var baseURL: URL?

    /// The one thread every simulator in the process serves its connections on.
    ///
    /// With a loop per core, the requests of a poll's 8 connections were spread over both threads, each woken
    /// for nearly every request, and the fleet's lock passed between cores; on one thread a wake-up serves the
    /// requests that arrived together. Measured on a 10,000-device card-rule poll (release build, 2 cores, alternated
    /// runs): about 105 µs of simulator CPU per request on two threads, 88 µs on one. A handler that blocks the
    /// loop holds up every connection, so the fleet calls stay short and waits are `Task.sleep`.
    static let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Builds the fleet for the configuration's device count and seed; the simulated clock starts now.
    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        state = SimulatorState(configuration: configuration)
        tuids = state.withLock { $0.fleet.deviceTUIDs() }
    }

    /// Every device's TUID, gateways included.
    public nonisolated func deviceTUIDs() -> [String] {
        tuids
    }

    /// The simulated time now.
    public nonisolated var now: Date {
        Date(timeIntervalSince1970: state.clock.now())
    }

    /// The devices whose gateway connection is lost now: their messages, echoes included, are withheld until the
    /// episode ends.
    public nonisolated func alertingTUIDs() -> [String] {
        let now = state.clock.now()
        return state.withLock { $0.fleet.tuidsWithOpenAlert(at: now) }
    }

    /// A copy of the fleet as it stands, for inspection.
    public var fleetSnapshot: Fleet {
        state.withLock { $0.fleet }
    }

    /// Request counters since the server was created.
    public var stats: SimulatorStats {
        state.withLock { $0.stats }
    }

    /// Starts listening and returns the base URL, e.g. `http://127.0.0.1:PORT/prod/v1`.
    public func start() async throws -> URL {
        if let baseURL { return baseURL }
        let logger = Logger(label: "tsee.simulator") { _ in SwiftLogNoOpLogHandler() }
        let responder = makeRouter().buildResponder()
        let clock = state.clock
        let dates = HTTPDate.Cache()
        let channel = HTTP1Channel(
            responder: { request, writer, channel in
                let context = SimulatorContext(source: .init(channel: channel, logger: logger))
                var response: Response
                do {
                    response = try await responder.respond(to: request, context: context)
                } catch let error as ConnectionDropped {
                    // Thrown out of the connection's loop, it closes the connection without an answer.
                    throw error
                } catch {
                    response = Reply.error(APIError(statusCode: 500, message: "\(error)"))
                }
                response.headers[.date] = dates.format(clock.now())
                try await writer.write(response: response.head, body: response.body)
            },
            configuration: .init(idleTimeout: .seconds(300)))
        let (events, continuation) = AsyncStream.makeStream(of: Result<Int, any Error>.self)
        let server = Server(
            childChannelSetup: EventLoopBoundChannel(base: channel),
            configuration: ServerConfiguration(address: .hostname(configuration.host, port: Int(configuration.port))),
            onServerRunning: { continuation.yield(.success($0.localAddress?.port ?? 0)) },
            eventLoopGroup: Self.eventLoops,
            logger: logger)
        // Run as a service so that `stop()` can shut it down gracefully: the listening socket closes first, so no
        // connection is accepted half-way through the shutdown (one that was would trap in NIO's async writer).
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [], logger: logger)
        serviceGroup = group
        let task = Task {
            do {
                try await group.run()
                continuation.yield(.failure(SimulatorError.stoppedBeforeListening))
            } catch {
                continuation.yield(.failure(error))
            }
            continuation.finish()
        }
        var iterator = events.makeAsyncIterator()
        let port: Int
        do {
            guard let first = await iterator.next() else { throw SimulatorError.stoppedBeforeListening }
            port = try first.get()
        } catch {
            task.cancel()
            await task.value
            throw error
        }
        serverTask = task
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let url = URL(string: "http://\(host):\(port)\(SimulatorContext.basePath)")!
        baseURL = url
        return url
    }

    /// Stops listening and closes every connection; answers in flight (a trickled or endless body, a latency
    /// wait) are cut off. Returns when the port is free.
    public func stop() async {
        guard let task = serverTask else { return }
        serverTask = nil
        baseURL = nil
        // Stop accepting and let answers finish; whatever is still running after a moment (a trickled or endless
        // body, a long latency) is cut off.
        await serviceGroup?.triggerGracefulShutdown()
        serviceGroup = nil
        let finished = Task {
            await task.value
        }
        let grace = Task {
            try? await Task.sleep(for: .milliseconds(500))
            task.cancel()
        }
        await finished.value
        grace.cancel()
    }

    /// The routes and, in front of them, the middleware the configuration asks for.
    private func makeRouter() -> Router<SimulatorContext> {
        let c = configuration
        let state = state
        let router = Router(context: SimulatorContext.self)
        // Added before any middleware: not counted, never delayed or failed.
        router.get("_sim/stats") { _, _ in Reply.data(state.withLock { $0.stats.json }) }

        router.add(middleware: StatsMiddleware(state: state))
        if c.slowBody {
            router.add(middleware: SlowBodyMiddleware(interval: .milliseconds(max(0, c.slowBodyByteIntervalMs))))
        }
        if c.latencyMs > 0 { router.add(middleware: LatencyMiddleware(delay: .milliseconds(c.latencyMs))) }
        if c.rateLimit > 0 { router.add(middleware: RateLimitMiddleware(state: state, limit: c.rateLimit)) }
        if c.failEvery > 0 || c.failRate > 0 {
            router.add(middleware: FailureMiddleware(state: state, every: c.failEvery, rate: c.failRate))
        }
        router.add(middleware: UnknownRouteMiddleware())
        if c.malformedEvery > 0 || c.malformedRate > 0 {
            router.add(middleware: MalformedBodyMiddleware(state: state, every: c.malformedEvery, rate: c.malformedRate))
        }
        if c.gzipBomb {
            router.add(middleware: OversizedBodyMiddleware(bomb: GzipBomb(decompressedSize: c.gzipBombBytes)))
        } else if c.endlessBody {
            router.add(middleware: OversizedBodyMiddleware(bomb: nil))
        }
        if c.ambiguousWriteRate > 0 {
            router.add(middleware: AmbiguousWriteMiddleware(state: state, rate: c.ambiguousWriteRate))
        }
        if c.emptyWriteBodies { router.add(middleware: EmptyWriteBodyMiddleware(state: state)) }

        let endpoints = Endpoints(state: state)
        let api = router.group(RouterPath(SimulatorContext.basePath))
        endpoints.registerToken(on: api)
        endpoints.register(on: api.group().add(middleware: AuthenticationMiddleware(state: state)))
        return router
    }
}

/// Why the simulator could not start.
public enum SimulatorError: Error, Sendable {
    /// The server stopped before it was listening.
    case stoppedBeforeListening
}
