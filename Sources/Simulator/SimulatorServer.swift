import FlyingFox
import FlyingSocks
import Foundation

/// The Thingsee Open Service API simulator, served over HTTP on loopback.
///
/// Every endpoint of the API document is served under `/prod/v1`, plus `GET /_sim/stats` (no token) with
/// the request counters. Every response carries the simulated clock in its `Date` header.
///
/// Faults are injected in this order: latency (every request but `/_sim`), then the rate limit (every
/// request but `/_sim`, token requests included, as a gateway throttles everything), then 503 failures
/// (API requests only, unknown routes included: never `/auth/client-token`, so a client can always log in,
/// and `failEvery` counts only those requests), then authentication, then the endpoint itself; last, a
/// successful `GET` API answer may get a malformed body (`malformedRate`, `malformedEvery`).
///
/// Not modelled: duplicated or out-of-order delivery, `tsmEv` other than 10 and 31, history of a device's
/// group (messages carry its current group), buffering of messages during a gateway outage (they are
/// lost), daylight saving time in office hours, and per-model acceptance of commands (every device
/// takes all four configuration ids).
public actor SimulatorServer {
    public nonisolated let configuration: SimulatorConfiguration
    let clock: SimulatorClock
    private let tuids: [String]
    var fleet: Fleet
    var tokens: [String: ContinuousClock.Instant] = [:]
    /// Request counters since the server was created.
    public private(set) var stats = SimulatorStats()
    private var apiRequests = 0
    private var failureDice: SplitMix64
    private var malformedDice: SplitMix64
    private var successfulReads = 0
    /// Times of the requests let through in the last real second, oldest first.
    private var recentRequests: [ContinuousClock.Instant] = []
    private var server: HTTPServer?
    private var serverTask: Task<Void, any Error>?

    /// Builds the fleet for the configuration's device count and seed; the simulated clock starts now.
    public init(configuration: SimulatorConfiguration) {
        self.configuration = configuration
        clock = SimulatorClock(timeScale: configuration.timeScale)
        fleet = Fleet(
            devices: configuration.devices, seed: configuration.seed, origin: clock.origin,
            echoDelay: configuration.echoDelay)
        tuids = fleet.deviceTUIDs()
        failureDice = SplitMix64(seed: SplitMix64.hash(configuration.seed, "failures".key))
        malformedDice = SplitMix64(seed: SplitMix64.hash(configuration.seed, "malformed".key))
    }

    /// Every device's TUID, gateways included.
    public nonisolated func deviceTUIDs() -> [String] {
        tuids
    }

    /// The simulated time now.
    public nonisolated var now: Date {
        Date(timeIntervalSince1970: clock.now())
    }

    /// A copy of the fleet as it stands, for inspection.
    public var fleetSnapshot: Fleet {
        fleet
    }

    /// Starts listening and returns the base URL, e.g. `http://127.0.0.1:PORT/prod/v1`.
    public func start() async throws -> URL {
        if let server, let address = await server.listeningAddress {
            return try baseURL(address)
        }
        let address: any SocketAddress =
            configuration.host.contains(":")
            ? try sockaddr_in6.inet6(ip6: configuration.host, port: configuration.port)
            : try sockaddr_in.inet(ip4: configuration.host, port: configuration.port)
        let server = HTTPServer(
            address: address, timeout: 60, pool: NoDelaySocketPool(), logger: .disabled,
            handler: ClosureHTTPHandler { [self] request in await self.handle(request) })
        self.server = server
        let task = Task { try await server.run() }
        serverTask = task
        do {
            try await server.waitUntilListening(timeout: 5)
        } catch {
            task.cancel()
            self.server = nil
            serverTask = nil
            throw error
        }
        guard let listening = await server.listeningAddress else {
            throw SocketError.unsupportedAddress
        }
        return try baseURL(listening)
    }

    /// Stops listening; in-flight requests are cut off.
    public func stop() async {
        guard let server else { return }
        self.server = nil
        await server.stop()
        serverTask?.cancel()
        serverTask = nil
    }

    private func baseURL(_ address: Socket.Address) throws -> URL {
        let port: UInt16
        switch address {
        case .ip4(_, let value), .ip6(_, let value): port = value
        case .unix: throw SocketError.unsupportedAddress
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return URL(string: "http://\(host):\(port)\(Route.basePath)")!
    }

    // MARK: Requests

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let route = Route(path: request.path)
        if route == .simStats {
            return respond(request.method == .GET ? .success(stats.json) : .failure(unknownRoute(request)))
        }
        stats.total += 1
        stats.byRoute["\(request.method.rawValue) \(route?.template ?? "(unknown)")", default: 0] += 1
        let isMutating = route != nil && route != .clientToken && (request.method == .POST || request.method == .DELETE)
        if isMutating { stats.mutating += 1 }

        if configuration.latencyMs > 0 {
            try? await Task.sleep(for: .milliseconds(configuration.latencyMs))
        }
        let body = request.method == .GET ? Data() : ((try? await request.bodyData) ?? Data())

        let outcome: Result<JSON, APIError>
        if let refusal = throttle() {
            outcome = .failure(refusal)
        } else if route != .clientToken, let failure = injectFailure() {
            outcome = .failure(failure)
        } else {
            outcome = Result { try answer(request, route: route, body: body) }.mapError {
                $0 as? APIError ?? APIError(statusCode: 500, message: "\($0)")
            }
        }
        if isMutating, case .success = outcome { stats.mutatingApplied += 1 }
        if request.method == .GET, route != .clientToken, case .success(let data) = outcome,
            let kind = malformation()
        {
            stats.malformed += 1
            return respond(.success(data), body: kind.body(for: data))
        }
        return respond(outcome)
    }

    /// Which malformation, if any, the next successful read gets.
    private func malformation() -> Malformation? {
        guard configuration.malformedEvery > 0 || configuration.malformedRate > 0 else { return nil }
        successfulReads += 1
        if configuration.malformedEvery > 0, successfulReads % configuration.malformedEvery == 0 {
            let kinds = Malformation.allCases
            return kinds[(successfulReads / configuration.malformedEvery) % kinds.count]
        }
        let roll = malformedDice.next()
        if configuration.malformedRate > 0, Double(roll >> 11) / Double(1 << 53) < configuration.malformedRate {
            return Malformation.allCases[Int(roll % UInt64(Malformation.allCases.count))]
        }
        return nil
    }

    /// - Parameter body: sent instead of the outcome's encoding (a malformed answer keeps its status and headers).
    private func respond(_ outcome: Result<JSON, APIError>, body replacement: Data? = nil) -> HTTPResponse {
        let status: HTTPStatusCode
        let body: JSON
        var headers: HTTPHeaders = [
            .contentType: "application/json",
            .date: HTTPDate.format(clock.now()),
        ]
        switch outcome {
        case .success(let data):
            status = .ok
            body = .object([("data", data)])
        case .failure(let error):
            status = HTTPStatusCode(error.statusCode, phrase: error.reason)
            body = error.body
            if error.statusCode == 429 { headers[HTTPHeader("Retry-After")] = "1" }
        }
        stats.byStatus[status.code, default: 0] += 1
        return HTTPResponse(statusCode: status, headers: headers, body: replacement ?? body.encoded())
    }

    /// The rate limit: at most `rateLimit` requests in any one real second.
    private func throttle() -> APIError? {
        guard configuration.rateLimit > 0 else { return nil }
        let now = ContinuousClock.now
        let windowStart = now - .seconds(1)
        if let firstKept = recentRequests.firstIndex(where: { $0 > windowStart }) {
            recentRequests.removeFirst(firstKept)
        } else {
            recentRequests.removeAll()
        }
        guard recentRequests.count < configuration.rateLimit else {
            return .tooManyRequests("Rate limit of \(configuration.rateLimit) requests per second exceeded")
        }
        recentRequests.append(now)
        return nil
    }

    /// `failEvery` answers every Nth API request 503; `failRate` a seeded random share of them.
    private func injectFailure() -> APIError? {
        apiRequests += 1
        if configuration.failEvery > 0, apiRequests % configuration.failEvery == 0 {
            return .unavailable("Service unavailable (injected: every \(configuration.failEvery) requests)")
        }
        if configuration.failRate > 0, Double(failureDice.next() >> 11) / Double(1 << 53) < configuration.failRate {
            return .unavailable("Service unavailable (injected: fail rate \(configuration.failRate))")
        }
        return nil
    }

    private func unknownRoute(_ request: HTTPRequest) -> APIError {
        .notFound("No route for \(request.method.rawValue) \(request.path)")
    }
}
