import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Counters of what a client has done, for summaries and benchmarks.
public struct ClientMetrics: Sendable, Equatable {
    public var requests = 0
    public var retries = 0
    public var logins = 0
    public var bytesReceived = 0
    public var mutatingRequests = 0
}

/// A typed async client of the Thingsee Open Service API.
///
/// One login is shared by all concurrent requests, renewed before the token expires, and repeated once when a
/// request is answered 401. Requests answered 429 or 5xx, timed out or refused are retried with bounded
/// exponential backoff and jitter, honouring `Retry-After`; other 4xx answers are never retried.
public final class ThingseeClient: Sendable {
    public let configuration: ClientConfiguration
    private let transport: HTTPTransport
    private let tokens = TokenCache()
    private let state = Mutex(State())

    private struct State {
        var metrics = ClientMetrics()
        /// The newest server time seen (from `Date` headers) and the local instant it was seen at.
        var serverTime: (unix: Int64, seenAt: ContinuousClock.Instant)?
    }

    public init(configuration: ClientConfiguration) {
        self.configuration = configuration
        self.transport = HTTPTransport(timeout: configuration.timeout)
    }

    public var metrics: ClientMetrics { state.withLock { $0.metrics } }

    /// The API's clock, read from the newest response's `Date` header and advanced by the local clock since;
    /// the local clock when no response has been seen yet.
    public func serverNow() -> Int64 {
        state.withLock { s in
            guard let t = s.serverTime else { return Int64(Date().timeIntervalSince1970) }
            let elapsed = ContinuousClock.now - t.seenAt
            return t.unix + elapsed.components.seconds
        }
    }

    /// Whether any response has told us the server's time yet.
    public var knowsServerTime: Bool { state.withLock { $0.serverTime != nil } }

    // MARK: - Endpoints

    /// `POST /auth/client-token`, forcing a new token even if the cached one is still valid.
    public func login() async throws {
        await tokens.invalidateAll()
        _ = try await token()
    }

    /// `GET /things/{tuid}`.
    public func thing(_ tuid: String) async throws -> ThingInfo {
        let (data, reader) = try await call(.get, ["things", tuid])
        return try reader.thing(data)
    }

    /// `GET /things/{tuid}/messages`: one page, in the order the API sent it.
    public func messages(_ tuid: String, _ query: MessageQuery) async throws -> [Message] {
        var items = [("limit", String(query.limit))]
        if !query.messageIDs.isEmpty {
            items.append(("messageid", query.messageIDs.map(String.init).joined(separator: ",")))
        }
        if !query.eventIDs.isEmpty { items.append(("eventid", query.eventIDs.map(String.init).joined(separator: ","))) }
        if let from = query.from { items.append(("from", String(from))) }
        if let to = query.to { items.append(("to", String(to))) }
        let (data, reader) = try await call(.get, ["things", tuid, "messages"], query: items)
        return try reader.messages(data)
    }

    /// All messages in `[from, to]`, fetched page by page while a page comes back full, sorted by `tsmTs` and
    /// de-duplicated. Works whichever order the API lists a page in.
    public func allMessages(
        _ tuid: String, from: Int64, to: Int64? = nil, pageSize: Int = 1000, messageIDs: [Int] = [],
        eventIDs: [Int] = [], maxPages: Int = 1000
    ) async throws -> [Message] {
        var seen = Set<String>()
        var all: [Message] = []
        var lower = from
        var upper = to
        for _ in 0..<maxPages {
            let page = try await messages(
                tuid, MessageQuery(limit: pageSize, messageIDs: messageIDs, eventIDs: eventIDs, from: lower, to: upper))
            for m in page where seen.insert(m.deduplicationKey).inserted { all.append(m) }
            guard page.count >= pageSize, let first = page.first, let last = page.last else { break }
            let oldest = min(first.tsmTs, last.tsmTs)
            let newest = max(first.tsmTs, last.tsmTs)
            if first.tsmTs >= last.tsmTs {
                // Newest first: continue below the oldest seen. If the whole page shares one second, step past it.
                let next = (oldest == upper) ? oldest - 1 : oldest
                if next < lower { break }
                upper = next
            } else {
                let next = (newest == lower) ? newest + 1 : newest
                if let upper, next > upper { break }
                lower = next
            }
        }
        all.sort { ($0.tsmTs, $0.tsmId, $0.tsmEv) < ($1.tsmTs, $1.tsmId, $1.tsmEv) }
        return all
    }

    /// `GET /things/{tuid}/alerts`.
    public func alerts(_ tuid: String, from: Int64? = nil, to: Int64? = nil) async throws -> [AlertRecord] {
        var items: [(String, String)] = []
        if let from { items.append(("from", String(from))) }
        if let to { items.append(("to", String(to))) }
        let (data, reader) = try await call(.get, ["things", tuid, "alerts"], query: items)
        return try reader.alerts(data)
    }

    /// `POST /things/{tuid}/commands`. A success only means the API accepted the commands; the device's
    /// `tsmEv` 31 echo with the same `transactionId` is the proof that they took effect.
    public func sendCommands(_ tuid: String, _ commands: [Command]) async throws -> CommandReceipt {
        let (data, reader) = try await call(.post, ["things", tuid, "commands"], body: .array(commands.map(\.json)))
        return try reader.commandReceipt(data)
    }

    /// `GET /things/{tuid}/commands`, newest first.
    public func commandHistory(_ tuid: String) async throws -> [CommandHistoryEntry] {
        let (data, reader) = try await call(.get, ["things", tuid, "commands"])
        return try reader.commandHistory(data)
    }

    /// `POST /things/{tuid}/installations`.
    public func setInstallationStatus(_ tuid: String, _ status: InstallationStatus) async throws -> Installation {
        let (data, reader) = try await call(
            .post, ["things", tuid, "installations"], body: ["installation_status": .string(status.rawValue)])
        return try reader.installation(data)
    }

    /// `GET /things/{tuid}/installations`, newest first.
    public func installations(_ tuid: String) async throws -> [InstallationEntry] {
        let (data, reader) = try await call(.get, ["things", tuid, "installations"])
        return try reader.installationHistory(data)
    }

    /// `GET /groups`.
    public func groups(search: String? = nil, limit: Int? = nil) async throws -> [Group] {
        var items: [(String, String)] = []
        if let search { items.append(("q", search)) }
        if let limit { items.append(("limit", String(limit))) }
        let (data, reader) = try await call(.get, ["groups"], query: items)
        return try reader.groups(data)
    }

    /// `POST /groups`.
    public func createGroup(_ id: String, description: String? = nil) async throws -> Group {
        var body: [String: JSONValue] = ["group_id": .string(id)]
        if let description { body["group_description"] = .string(description) }
        let (data, reader) = try await call(.post, ["groups"], body: .object(body))
        // Some deployments answer with an empty body; the group is then what was asked for.
        if data.objectValue?["group_id"] == nil {
            return Group(groupId: id, groupDescription: description, raw: data)
        }
        return try reader.group(data, path: "data")
    }

    /// `GET /groups/{id}/things`.
    public func groupThings(_ id: String) async throws -> GroupThings {
        let (data, reader) = try await call(.get, ["groups", id, "things"])
        return try reader.groupThings(data)
    }

    /// `POST /things/{tuid}/group`. Assigning to `unassigned` takes the device out of its group.
    public func assignGroup(_ tuid: String, to group: String) async throws -> Installation {
        let (data, reader) = try await call(.post, ["things", tuid, "group"], body: ["group_id": .string(group)])
        return try reader.installation(data)
    }

    /// `DELETE /groups/{id}`.
    public func deleteGroup(_ id: String) async throws -> GroupDeletion {
        let (data, reader) = try await call(.delete, ["groups", id])
        return try reader.groupDeletion(data)
    }

    // MARK: - Requests

    enum Method: String {
        case get = "GET", post = "POST", delete = "DELETE"
    }

    private func url(_ segments: [String], query: [(String, String)]) -> URL {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/;?#")
        let path = segments.map { $0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0 }.joined(
            separator: "/")
        var components = URLComponents(url: configuration.baseURL, resolvingAgainstBaseURL: false)!
        components.percentEncodedPath = components.percentEncodedPath + "/" + path
        if !query.isEmpty {
            components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            // URLComponents leaves `+` alone, which servers read as a space.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        return components.url!
    }

    /// Sends one API call with authentication and retries; returns the `data` payload.
    func call(
        _ method: Method, _ segments: [String], query: [(String, String)] = [], body: JSONValue? = nil
    ) async throws -> (JSONValue, PayloadReader) {
        let endpoint = "\(method.rawValue) /\(segments.joined(separator: "/"))"
        let reader = PayloadReader(endpoint: endpoint)
        var request = URLRequest(url: url(segments, query: query))
        request.httpMethod = method.rawValue
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body {
            request.httpBody = Data(body.description.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        var reauthenticated = false
        while true {
            let token = try await token()
            request.setValue("Bearer \(token.value)", forHTTPHeaderField: "Authorization")
            let response = try await sendRetrying(request, endpoint: endpoint, mutating: method != .get)
            switch response.status {
            case 200..<300:
                return (try payload(response, reader: reader), reader)
            case 401 where !reauthenticated:
                // The token expired early or was revoked: log in again and retry once.
                reauthenticated = true
                await tokens.invalidate(token)
            case 401:
                let (_, message) = Self.apiError(response)
                throw ThingseeError.authentication(endpoint: endpoint, status: 401, message: message)
            default:
                let (error, message) = Self.apiError(response)
                throw ThingseeError.api(endpoint: endpoint, status: response.status, error: error, message: message)
            }
        }
    }

    /// Sends a request, retrying refused or dropped connections, timeouts, 429 and 5xx with backoff. Returns the
    /// first answer that is not retryable, or the last answer when the attempts are used up.
    private func sendRetrying(_ request: URLRequest, endpoint: String, mutating: Bool) async throws -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            switch await exchange(request, endpoint: endpoint, mutating: mutating) {
            case .success(let response):
                let retryable = response.status == 429 || response.status >= 500
                guard retryable, attempt < configuration.retry.maxAttempts else { return response }
                try await backoff(attempt: attempt, retryAfter: Self.retryAfter(response), endpoint: endpoint)
            case .failure(.cancelled):
                throw ThingseeError.cancelled(endpoint: endpoint)
            case .failure(let failure):
                guard attempt < configuration.retry.maxAttempts else {
                    let reason =
                        switch failure {
                        case .timedOut: "timed out after \(Int(configuration.timeout)) s"
                        case .connection(let text): text
                        case .cancelled: "cancelled"
                        }
                    throw ThingseeError.unreachable(endpoint: endpoint, reason: reason, attempts: attempt)
                }
                try await backoff(attempt: attempt, retryAfter: nil, endpoint: endpoint)
            }
        }
    }

    private func exchange(_ request: URLRequest, endpoint: String, mutating: Bool) async -> Result<
        HTTPResponse, TransportFailure
    > {
        state.withLock {
            $0.metrics.requests += 1
            if mutating { $0.metrics.mutatingRequests += 1 }
        }
        do {
            let response = try await transport.send(request)
            record(response)
            return .success(response)
        } catch {
            return .failure(error)
        }
    }

    private func record(_ response: HTTPResponse) {
        let date = response.header("Date").flatMap(ISOTime.parseHTTPDate)
        state.withLock { s in
            s.metrics.bytesReceived += response.body.count
            if let date, date >= (s.serverTime?.unix ?? .min) {
                s.serverTime = (date, ContinuousClock.now)
            }
        }
    }

    private func backoff(attempt: Int, retryAfter: Double?, endpoint: String) async throws {
        state.withLock { $0.metrics.retries += 1 }
        let seconds = configuration.retry.delay(afterAttempt: attempt, retryAfter: retryAfter)
        do {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        } catch {
            throw ThingseeError.cancelled(endpoint: endpoint)
        }
    }

    private func payload(_ response: HTTPResponse, reader: PayloadReader) throws -> JSONValue {
        if response.body.isEmpty { return .null }
        let json: JSONValue
        do {
            json = try JSONValue.parse(response.body)
        } catch {
            throw reader.fail("(body)", "is not valid JSON (\(response.body.count) bytes)")
        }
        if let object = json.objectValue {
            guard let data = object["data"] else { throw reader.fail("data", "is missing") }
            return data
        }
        return json
    }

    /// The API's `error` and `message`, or what can be made of a body that lacks them.
    static func apiError(_ response: HTTPResponse) -> (String, String) {
        let reason = HTTPURLResponse.localizedString(forStatusCode: response.status).capitalized
        if let json = try? JSONValue.parse(response.body), let o = json.objectValue {
            let error = o["error"]?.stringValue ?? reason
            let message = o["message"]?.stringValue ?? o["Message"]?.stringValue ?? ""
            return (error, message)
        }
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (reason, text)
    }

    static func retryAfter(_ response: HTTPResponse) -> Double? {
        guard let value = response.header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value) { return seconds }
        if let date = ISOTime.parseHTTPDate(value) { return Double(date) - Date().timeIntervalSince1970 }
        return nil
    }

    // MARK: - Tokens

    private func token() async throws -> Secret {
        try await tokens.current(lifetime: configuration.tokenLifetime - configuration.tokenRenewalMargin) {
            try await self.requestToken()
        }
    }

    private func requestToken() async throws -> Secret {
        let endpoint = "POST /auth/client-token"
        let reader = PayloadReader(endpoint: endpoint)
        var request = URLRequest(url: url(["auth", "client-token"], query: []))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let body: JSONValue = [
            "client_id": .string(configuration.clientID), "client_secret": .string(configuration.clientSecret.value),
        ]
        request.httpBody = Data(body.description.utf8)
        state.withLock { $0.metrics.logins += 1 }
        let response = try await sendRetrying(request, endpoint: endpoint, mutating: false)
        switch response.status {
        case 200..<300:
            let data = try payload(response, reader: reader)
            guard let token = data["token"]?.stringValue ?? data["access_token"]?.stringValue, !token.isEmpty
            else { throw reader.fail("data.token", "is missing") }
            return Secret(token)
        case 400, 401, 403:
            let (error, message) = Self.apiError(response)
            throw ThingseeError.authentication(
                endpoint: endpoint, status: response.status, message: message.isEmpty ? error : message)
        default:
            let (error, message) = Self.apiError(response)
            throw ThingseeError.api(endpoint: endpoint, status: response.status, error: error, message: message)
        }
    }
}

/// The cached access token: one login at a time, shared by every waiting request.
///
/// A token the API rejects as expired earlier than assumed teaches the cache a shorter lifetime, so later tokens
/// are renewed before they expire instead of costing a 401 each time.
actor TokenCache {
    private var token: Secret?
    private var issuedAt: ContinuousClock.Instant = .now
    private var expiresAt: ContinuousClock.Instant = .now
    private var learnedLifetime: Duration?
    private var pending: Task<Secret, any Error>?

    func current(lifetime: Double, login: @escaping @Sendable () async throws -> Secret) async throws -> Secret {
        if let token, ContinuousClock.now < expiresAt { return token }
        if let pending { return try await pending.value }
        let task = Task { try await login() }
        pending = task
        defer { pending = nil }
        let fresh = try await task.value
        token = fresh
        issuedAt = .now
        let assumed = Duration.milliseconds(Int(max(lifetime, 1) * 1000))
        expiresAt = issuedAt + min(assumed, learnedLifetime ?? assumed)
        return fresh
    }

    /// Forgets `stale` if it is still the cached token (another request may have renewed it already).
    func invalidate(_ stale: Secret) {
        guard token == stale else { return }
        let age = ContinuousClock.now - issuedAt
        if ContinuousClock.now < expiresAt {
            // Rejected before its assumed expiry: renew at 80 % of the age it reached from now on.
            learnedLifetime = max(age * 0.8, .milliseconds(200))
        }
        token = nil
    }

    func invalidateAll() {
        token = nil
    }
}
