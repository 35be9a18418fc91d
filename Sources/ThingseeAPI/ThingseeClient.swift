import AsyncHTTPClient
import CoreMetrics
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

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
/// request is answered 401. Reads answered 429 or 5xx, timed out, dropped or refused are retried with bounded
/// exponential backoff and jitter, honouring `Retry-After`. A write (POST, DELETE) is retried only when it
/// certainly did not take effect (connection refused, 429); when its outcome is unknown (5xx, the connection lost
/// or the deadline passed after it went out) it fails with `ThingseeError.outcomeUnknown` and is never sent again
/// by the client. Other 4xx answers are never retried, and no redirect is ever followed.
///
/// Time comes from the injected clock: backoff sleeps, token expiry and the advance of `serverNow()` between
/// responses. The total deadline of each request (`ClientConfiguration.timeout`) runs on the I/O event loop's
/// real time.
public final class ThingseeClient: Sendable {
    public let configuration: ClientConfiguration
    private let transport: HTTPTransport
    private let clock: ClientClock
    private let tokens: TokenCache
    private let maximumBodyBytes: Int
    private let state = Mutex(State())

    private struct State {
        var metrics = ClientMetrics()
        /// The newest server time seen (from `Date` headers) and the clock's reading when it was seen.
        var serverTime: (unix: Int64, seenAt: Duration)?
        /// The `Date` header last parsed: an unchanged header is not parsed again.
        var lastDateHeader: String?
        /// The most items one unfiltered, newest-first messages page of this server has held (see
        /// `allMessagesCounted`): proof that the server does not cap pages below this size.
        var pageCapacity = 0
    }

    /// The most items one unfiltered messages page has held so far (0 before any).
    public var provenPageCapacity: Int { state.withLock { $0.pageCapacity } }

    public convenience init(configuration: ClientConfiguration, clock: any Clock<Duration> = ContinuousClock()) {
        self.init(configuration: configuration, clock: clock, maximumBodyBytes: ClientConfiguration.maximumBodyBytes)
    }

    init(configuration: ClientConfiguration, clock: any Clock<Duration>, maximumBodyBytes: Int) {
        self.configuration = configuration
        self.clock = ClientClock(clock)
        self.tokens = TokenCache(clock: self.clock)
        self.maximumBodyBytes = maximumBodyBytes
        self.transport = HTTPTransport(configuration: configuration, maximumBodyBytes: maximumBodyBytes)
    }

    /// Closes the client's connections. Call it when done; a client released without it closes them in the
    /// background.
    public func shutdown() async {
        await transport.shutdown()
    }

    public var metrics: ClientMetrics { state.withLock { $0.metrics } }

    /// The API's clock, read from the newest response's `Date` header and advanced by the injected clock since;
    /// the system's clock when no response has been seen yet.
    public func serverNow() -> Int64 {
        let now = clock.elapsed()
        return state.withLock { s in
            guard let t = s.serverTime else { return Int64(Date().timeIntervalSince1970) }
            return t.unix + (now - t.seenAt).components.seconds
        }
    }

    /// Whether any response has told us the server's time yet.
    public var knowsServerTime: Bool { state.withLock { $0.serverTime != nil } }

    // MARK: - Endpoints

    /// `POST /auth/client-token`, forcing a new token even if the cached one is still valid.
    public func login() async throws {
        tokens.invalidateAll()
        _ = try await token()
    }

    /// `GET /things/{tuid}`.
    public func thing(_ tuid: String) async throws -> ThingInfo {
        let (data, reader) = try await call(.GET, ["things", tuid])
        return try reader.thing(data)
    }

    /// `GET /things/{tuid}/messages`: one page, in the order the API sent it, without the rows a client cannot
    /// use (see `messagesCounted`).
    public func messages(_ tuid: String, _ query: MessageQuery) async throws -> [Message] {
        try await messagesCounted(tuid, query).messages
    }

    /// `GET /things/{tuid}/messages`: one page, in the order the API sent it. Rows a client cannot use — without
    /// `tsmTuid` (outgoing command rows carry only `tsmDstTuid`), network-down events without `tsmTs` — are
    /// skipped and counted; an item that is no message at all is a malformed answer (`ThingseeError.decoding`).
    public func messagesCounted(_ tuid: String, _ query: MessageQuery) async throws -> MessageBatch {
        let (data, reader) = try await call(.GET, ["things", tuid, "messages"], query: Self.messageQuery(query))
        let (messages, skipped) = try reader.messagesSkippingUnusable(data)
        return MessageBatch(messages: messages, skipped: skipped.count, pages: 1)
    }

    /// All messages in `[from, to]`, sorted by `tsmTs` and de-duplicated; see `allMessagesCounted`.
    public func allMessages(
        _ tuid: String, from: Int64, to: Int64? = nil, pageSize: Int = 1000, messageIDs: [Int] = [],
        eventIDs: [Int] = [], maxPages: Int = 1000
    ) async throws -> [Message] {
        try await allMessagesCounted(
            tuid, from: from, to: to, pageSize: pageSize, messageIDs: messageIDs, eventIDs: eventIDs,
            maxPages: maxPages
        ).messages
    }

    /// All messages in `[from, to]`, fetched page by page by time until a page brings nothing new (a page
    /// shorter than `pageSize` is not taken for the end: servers cap pages and filter after limiting), at most
    /// `maxPages` pages; sorted by `tsmTs` and de-duplicated. Works whichever order the API lists a page in.
    /// Unusable items are skipped and counted once each.
    ///
    /// Two proofs save the request that would only confirm a short page, for unfiltered reads listed newest first
    /// (the API's order: a capped page holds the newest items of the range):
    /// - **Capacity.** The client remembers the most items one such page of this server has held. A page shorter
    ///   than that was not cut by a cap, so it holds the whole range.
    /// - **Reaching past the range.** The confirming request asks from `widening` earlier than `from`. If its
    ///   answer holds anything older than `from`, the newest-first page covered all of `[from, oldest]`; the items
    ///   before `from` are dropped. Its answer is usually a full page, which proves the capacity for every later
    ///   device: after the first few devices, a device costs one request.
    /// A page as long as the largest seen stays ambiguous and is confirmed as before, so a capped server is paged
    /// to the end; filtered reads (`messageIDs`, `eventIDs`) and oldest-first servers always are.
    public func allMessagesCounted(
        _ tuid: String, from: Int64, to: Int64? = nil, pageSize: Int = 1000, messageIDs: [Int] = [],
        eventIDs: [Int] = [], maxPages: Int = 1000, widening: Int64 = 7 * 86_400
    ) async throws -> MessageBatch {
        let unfiltered = messageIDs.isEmpty && eventIDs.isEmpty
        var seen = Set<String>()
        var skippedSeen = Set<String>()
        var all: [Message] = []
        var lower = from
        var upper = to
        var pages = 0
        // Pages are listed newest first unless a page shows otherwise.
        var ascending = false
        var largestPage = 0
        var widen = false
        while pages < max(maxPages, 1) {
            if let upper, upper < lower { break }
            pages += 1
            let widened = widen && !ascending
            widen = false
            let query = MessageQuery(
                limit: pageSize, messageIDs: messageIDs, eventIDs: eventIDs,
                from: widened ? max(0, lower - widening) : lower, to: upper)
            let (data, reader) = try await call(.GET, ["things", tuid, "messages"], query: Self.messageQuery(query))
            var (page, skipped) = try reader.messagesSkippingUnusable(data)
            let count = page.count + skipped.count
            if let first = page.first, let last = page.last, first.tsmTs != last.tsmTs {
                ascending = first.tsmTs < last.tsmTs
            }
            let capacity = state.withLock { state in
                defer { if unfiltered && !ascending { state.pageCapacity = max(state.pageCapacity, count) } }
                return state.pageCapacity
            }
            var reachedPast = false
            if widened {
                reachedPast = page.contains { $0.tsmTs < from }
                page.removeAll { $0.tsmTs < from }
            }
            var fresh = 0
            for m in page where seen.insert(m.deduplicationKey).inserted {
                all.append(m)
                fresh += 1
            }
            for item in skipped where skippedSeen.insert(item.description).inserted { fresh += 1 }
            let previousLargest = largestPage
            largestPage = max(largestPage, count)
            if reachedPast { break }
            guard let first = page.first else { break }
            var oldest = first.tsmTs
            var newest = first.tsmTs
            for m in page {
                oldest = min(oldest, m.tsmTs)
                newest = max(newest, m.tsmTs)
            }
            let shortcut = unfiltered && !ascending && count < pageSize
            if shortcut && count < capacity { break }
            // Bounds are inclusive: the bounding second may hold more than the page showed.
            if fresh == 0 {
                // Nothing new: the range is exhausted, unless the page held only the bounding second and was as
                // long as any page so far (a cap may have cut that second): then step past it.
                guard oldest == newest, count >= previousLargest else { break }
                if ascending { lower = newest + 1 } else { upper = oldest - 1 }
                continue
            }
            if ascending { lower = newest } else { upper = oldest }
            widen = shortcut
        }
        all.sort { ($0.tsmTs, $0.tsmId, $0.tsmEv) < ($1.tsmTs, $1.tsmId, $1.tsmEv) }
        return MessageBatch(messages: all, skipped: skippedSeen.count, pages: pages)
    }

    private static func messageQuery(_ query: MessageQuery) -> [(String, String)] {
        var items = [("limit", String(query.limit))]
        if !query.messageIDs.isEmpty {
            items.append(("messageid", query.messageIDs.map(String.init).joined(separator: ",")))
        }
        if !query.eventIDs.isEmpty { items.append(("eventid", query.eventIDs.map(String.init).joined(separator: ","))) }
        if let from = query.from { items.append(("from", String(from))) }
        if let to = query.to { items.append(("to", String(to))) }
        return items
    }

    /// `GET /things/{tuid}/alerts`.
    public func alerts(_ tuid: String, from: Int64? = nil, to: Int64? = nil) async throws -> [AlertRecord] {
        var items: [(String, String)] = []
        if let from { items.append(("from", String(from))) }
        if let to { items.append(("to", String(to))) }
        let (data, reader) = try await call(.GET, ["things", tuid, "alerts"], query: items)
        return try reader.alerts(data)
    }

    /// `GET /things/alerts`: every device with an open alert. Deployments without the call answer 404 or 403
    /// (`ThingseeError.api`); callers then fall back to per-device `alerts`.
    public func alertingTUIDs() async throws -> [String] {
        let (data, reader) = try await call(.GET, ["things", "alerts"])
        return try reader.alertingTUIDs(data)
    }

    /// `GET /things/alerts/count`: how many devices have an open alert (the API sends the number as a string).
    public func alertCount() async throws -> Int {
        let (data, reader) = try await call(.GET, ["things", "alerts", "count"])
        return try reader.alertCount(data)
    }

    /// `POST /things/{tuid}/commands`. A success only means the API accepted the commands; the device's
    /// `tsmEv` 31 echo with the same `transactionId` is the proof that they took effect. An answer without a body
    /// is a success; the receipt then lists the commands as sent.
    public func sendCommands(_ tuid: String, _ commands: [Command]) async throws -> CommandReceipt {
        let (data, reader) = try await call(.POST, ["things", tuid, "commands"], body: .array(commands.map(\.json)))
        guard data.objectValue != nil else {
            return CommandReceipt(responsible: nil, commands: commands.map(\.json), raw: data)
        }
        return try reader.commandReceipt(data)
    }

    /// `GET /things/{tuid}/commands`, newest first; `limit` 1 asks for the newest only, 0 for all.
    public func commandHistory(_ tuid: String, limit: Int? = nil) async throws -> [CommandHistoryEntry] {
        let (data, reader) = try await call(.GET, ["things", tuid, "commands"], query: Self.limit(limit))
        return try reader.commandHistory(data)
    }

    /// `POST /things/{tuid}/installations`. An answer without the fields is a success with the status asked for.
    public func setInstallationStatus(_ tuid: String, _ status: InstallationStatus) async throws -> Installation {
        let (data, reader) = try await call(
            .POST, ["things", tuid, "installations"], body: ["installation_status": .string(status.rawValue)])
        var result =
            data.objectValue == nil
            ? Installation(tuid: nil, installationStatus: nil, groupId: nil, raw: data) : try reader.installation(data)
        result.tuid = result.tuid ?? tuid
        result.installationStatus = result.installationStatus ?? status.rawValue
        return result
    }

    /// `GET /things/{tuid}/installations`, newest first; `limit` 1 asks for the current status only, 0 for all.
    public func installations(_ tuid: String, limit: Int? = nil) async throws -> [InstallationEntry] {
        let (data, reader) = try await call(.GET, ["things", tuid, "installations"], query: Self.limit(limit))
        return try reader.installationHistory(data)
    }

    /// `GET /groups`.
    public func groups(search: String? = nil, limit: Int? = nil) async throws -> [Group] {
        var items: [(String, String)] = []
        if let search { items.append(("q", search)) }
        items += Self.limit(limit)
        let (data, reader) = try await call(.GET, ["groups"], query: items)
        return try reader.groups(data)
    }

    /// `POST /groups`. An answer without the group is a success: the group is then what was asked for.
    public func createGroup(_ id: String, description: String? = nil) async throws -> Group {
        var body: [String: JSONValue] = ["group_id": .string(id)]
        if let description { body["group_description"] = .string(description) }
        let (data, reader) = try await call(.POST, ["groups"], body: .object(body))
        if data.objectValue?["group_id"] == nil {
            return Group(groupId: id, groupDescription: description, raw: data)
        }
        return try reader.group(data, path: "data")
    }

    /// `POST /groups/{id}/rename` with `{"group_id": NEW}`: the group under its new id.
    public func renameGroup(_ id: String, to newID: String) async throws -> Group {
        let (data, reader) = try await call(.POST, ["groups", id, "rename"], body: ["group_id": .string(newID)])
        if data.objectValue?["group_id"] == nil {
            return Group(groupId: newID, groupDescription: nil, raw: data)
        }
        return try reader.group(data, path: "data")
    }

    /// `GET /groups/{id}/things`.
    public func groupThings(_ id: String) async throws -> GroupThings {
        let (data, reader) = try await call(.GET, ["groups", id, "things"])
        return try reader.groupThings(data)
    }

    /// `GET /things/{tuid}/group`: the id of the device's group (`unassigned` when it is in none).
    public func groupOf(_ tuid: String) async throws -> String {
        let (data, reader) = try await call(.GET, ["things", tuid, "group"])
        let o = try reader.object(data, "data")
        return try reader.requiredString(o, "group_id", in: "data.")
    }

    /// `POST /things/{tuid}/group`. Assigning to `unassigned` takes the device out of its group. An answer
    /// without the fields is a success with the group asked for.
    public func assignGroup(_ tuid: String, to group: String) async throws -> Installation {
        let (data, reader) = try await call(.POST, ["things", tuid, "group"], body: ["group_id": .string(group)])
        var result =
            data.objectValue == nil
            ? Installation(tuid: nil, installationStatus: nil, groupId: nil, raw: data) : try reader.installation(data)
        result.tuid = result.tuid ?? tuid
        result.groupId = result.groupId ?? group
        return result
    }

    /// `DELETE /groups/{id}`. An answer without a body is a success.
    public func deleteGroup(_ id: String) async throws -> GroupDeletion {
        let (data, reader) = try await call(.DELETE, ["groups", id])
        guard data.objectValue != nil else { return GroupDeletion(groupId: id, deleted: true, raw: data) }
        var result = try reader.groupDeletion(data)
        result.groupId = result.groupId ?? id
        return result
    }

    private static func limit(_ limit: Int?) -> [(String, String)] {
        limit.map { [("limit", String($0))] } ?? []
    }

    // MARK: - Requests

    /// The request URL: the configured origin and base path, then each segment percent-encoded on its own (a
    /// TUID is sent as it is), then the query.
    func url(_ segments: [String], query: [(String, String)]) -> String {
        var url = configuration.prefix
        for segment in segments {
            url += "/"
            url += URLEscaping.escape(segment)
        }
        for (index, item) in query.enumerated() {
            url += index == 0 ? "?" : "&"
            url += URLEscaping.escape(item.0)
            url += "="
            url += URLEscaping.escape(item.1)
        }
        return url
    }

    private func request(_ method: HTTPMethod, url: String, body: JSONValue?) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "Accept-Encoding", value: "gzip, deflate")
        request.headers.add(name: "User-Agent", value: "tsee")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.description))
        }
        return request
    }

    /// Sends one API call with authentication and retries; returns the `data` payload (`null` when a write was
    /// answered without one).
    private func call(
        _ method: HTTPMethod, _ segments: [String], query: [(String, String)] = [], body: JSONValue? = nil
    ) async throws -> (JSONValue, PayloadReader) {
        let endpoint = "\(method.rawValue) /\(segments.joined(separator: "/"))"
        let reader = PayloadReader(endpoint: endpoint)
        let mutating = method != .GET
        var request = request(method, url: url(segments, query: query), body: body)
        var reauthenticated = false
        while true {
            let token = try await token()
            request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token.value)")
            let response = try await sendRetrying(request, endpoint: endpoint, mutating: mutating)
            switch response.status {
            case 200..<300:
                return (try payload(response, reader: reader, mutating: mutating), reader)
            case 300..<400:
                throw redirect(response, endpoint: endpoint)
            case 401 where !reauthenticated:
                // The token expired early or was revoked: log in again and retry once.
                reauthenticated = true
                tokens.invalidate(token)
            case 401:
                let (_, message) = Self.apiError(response)
                throw ThingseeError.authentication(endpoint: endpoint, status: 401, message: message)
            case 500..<600 where mutating:
                let (error, message) = Self.apiError(response)
                throw ThingseeError.outcomeUnknown(
                    endpoint: endpoint, status: response.status,
                    reason: "\(response.status) \(error)\(message.isEmpty ? "" : ": \(message)")")
            default:
                let (error, message) = Self.apiError(response)
                throw ThingseeError.api(endpoint: endpoint, status: response.status, error: error, message: message)
            }
        }
    }

    private func redirect(_ response: HTTPResponse, endpoint: String) -> ThingseeError {
        var target = "elsewhere"
        if let location = response.header("Location"), let url = URL(string: location) {
            if let scheme = url.scheme, let host = url.host {
                target = "\(scheme)://\(host)\(url.port.map { ":\($0)" } ?? "")"
            } else {
                target = "another path of \(configuration.displayHost)"
            }
        }
        return .api(
            endpoint: endpoint, status: response.status, error: "Redirect",
            message: "the API redirected to \(target), and tsee follows no redirects")
    }

    /// Sends a request, retrying what certainly did not take effect (refused connections, 429) and, for reads,
    /// also what may have (5xx, dropped connections, timeouts), with backoff. Returns the first answer that is not
    /// retried, or the last answer when the attempts are used up.
    private func sendRetrying(_ request: HTTPClientRequest, endpoint: String, mutating: Bool) async throws
        -> HTTPResponse
    {
        let route = Self.route(endpoint)
        var attempt = 0
        let policy = configuration.retry
        while true {
            attempt += 1
            let failure: TransportFailure
            switch await exchange(request, route: route, mutating: mutating) {
            case .success(let response):
                let retryable = response.status == 429 || (response.status >= 500 && !mutating)
                guard retryable, attempt < policy.maxAttempts else { return response }
                try await backoff(attempt: attempt, retryAfter: Self.retryAfter(response), endpoint: endpoint)
                continue
            case .failure(let f):
                failure = f
            }
            let reason: String
            switch failure {
            case .cancelled:
                throw ThingseeError.cancelled(endpoint: endpoint)
            case .tls(let text):
                throw ThingseeError.unreachable(endpoint: endpoint, reason: text, attempts: attempt)
            case .tooLarge:
                throw ThingseeError.decoding(
                    endpoint: endpoint, field: "(body)",
                    reason: "is larger than \(maximumBodyBytes >> 20) MiB after decompression; refused")
            case .notSent(let text):
                reason = text
            case .lost(let text):
                if mutating { throw ThingseeError.outcomeUnknown(endpoint: endpoint, status: nil, reason: text) }
                reason = text
            case .timedOut:
                let text = "no complete answer within \(Self.seconds(configuration.timeout))"
                if mutating { throw ThingseeError.outcomeUnknown(endpoint: endpoint, status: nil, reason: text) }
                reason = "timed out: \(text)"
            }
            guard attempt < policy.maxAttempts else {
                throw ThingseeError.unreachable(endpoint: endpoint, reason: reason, attempts: attempt)
            }
            try await backoff(attempt: attempt, retryAfter: nil, endpoint: endpoint)
        }
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    private func exchange(_ request: HTTPClientRequest, route: String, mutating: Bool) async -> Result<
        HTTPResponse, TransportFailure
    > {
        state.withLock {
            $0.metrics.requests += 1
            if mutating { $0.metrics.mutatingRequests += 1 }
        }
        let started = clock.elapsed()
        let result: Result<HTTPResponse, TransportFailure>
        do {
            let response = try await transport.send(request)
            record(response)
            result = .success(response)
        } catch {
            result = .failure(error)
        }
        let code = (try? result.get()).map { String($0.status) } ?? "error"
        Counter(label: "tsee_api_requests_total", dimensions: [("endpoint", route), ("code", code)]).increment()
        CoreMetrics.Timer(label: "tsee_api_request_duration_seconds", dimensions: [("endpoint", route)])
            .recordNanoseconds((clock.elapsed() - started).nanoseconds)
        return result
    }

    /// An endpoint as a route template for metrics: `GET /things/{tuid}/messages`, `POST /groups/{id}/rename`, so
    /// that a fleet of devices makes a handful of series, not one per device.
    static func route(_ endpoint: String) -> String {
        var parts = endpoint.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for i in parts.indices.dropFirst() where i + 1 < parts.count {
            if parts[i] == "things", !["alerts"].contains(parts[i + 1]) { parts[i + 1] = "{tuid}" }
            if parts[i] == "groups" { parts[i + 1] = "{id}" }
        }
        return parts.joined(separator: "/")
    }

    private func record(_ response: HTTPResponse) {
        let header = response.header("Date")
        let now = clock.elapsed()
        let known = state.withLock { s in
            s.metrics.bytesReceived += response.body.count
            return header == nil || header == s.lastDateHeader
        }
        guard !known, let header else { return }
        let date = ISOTime.parseHTTPDate(header)
        state.withLock { s in
            s.lastDateHeader = header
            if let date, date >= (s.serverTime?.unix ?? .min) {
                s.serverTime = (date, now)
            }
        }
    }

    private func backoff(attempt: Int, retryAfter: Double?, endpoint: String) async throws {
        state.withLock { $0.metrics.retries += 1 }
        let seconds = configuration.retry.delay(afterAttempt: attempt, retryAfter: retryAfter)
        do {
            try await clock.sleep(.milliseconds(Int64((seconds * 1000).rounded())))
        } catch {
            throw ThingseeError.cancelled(endpoint: endpoint)
        }
    }

    private func payload(_ response: HTTPResponse, reader: PayloadReader, mutating: Bool) throws -> JSONValue {
        if response.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .null }
        let json: JSONValue
        do {
            json = try JSONValue.parse(response.body)
        } catch {
            // After a write the status is what counts; the body is only informative.
            if mutating { return .null }
            throw reader.fail("(body)", "is not valid JSON (\(response.body.count) bytes)")
        }
        if let object = json.objectValue {
            guard let data = object["data"] else {
                if mutating { return .null }
                throw reader.fail("data", "is missing")
            }
            return data
        }
        return json
    }

    /// The API's `error` and `message`, or what can be made of a body that lacks them.
    static func apiError(_ response: HTTPResponse) -> (String, String) {
        let reason = HTTPResponseStatus(statusCode: response.status).reasonPhrase.capitalized
        if let json = try? JSONValue.parse(response.body), let o = json.objectValue {
            let error = o["error"]?.stringValue ?? reason
            let message = o["message"]?.stringValue ?? o["Message"]?.stringValue ?? ""
            return (error, message)
        }
        let text = String(decoding: response.body.prefix(200), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (reason, text)
    }

    /// `Retry-After` in seconds: a number, or an HTTP date measured against the same response's `Date`.
    static func retryAfter(_ response: HTTPResponse) -> Double? {
        guard let value = response.header("Retry-After")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(value), seconds.isFinite { return seconds }
        if let date = ISOTime.parseHTTPDate(value) {
            let now = response.header("Date").flatMap(ISOTime.parseHTTPDate) ?? Int64(Date().timeIntervalSince1970)
            return Double(date - now)
        }
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
        let body: JSONValue = [
            "client_id": .string(configuration.clientID), "client_secret": .string(configuration.clientSecret.value),
        ]
        let request = request(.POST, url: url(["auth", "client-token"], query: []), body: body)
        state.withLock { $0.metrics.logins += 1 }
        // Logging in changes nothing on the server: it is retried like a read.
        let response = try await sendRetrying(request, endpoint: endpoint, mutating: false)
        switch response.status {
        case 200..<300:
            let data = try payload(response, reader: reader, mutating: false)
            guard let token = data["token"]?.stringValue ?? data["access_token"]?.stringValue, !token.isEmpty
            else { throw reader.fail("data.token", "is missing") }
            return Secret(token)
        case 300..<400:
            throw redirect(response, endpoint: endpoint)
        case 403 where Self.apiError(response).1 == ThingseeError.missingAuthenticationToken:
            // API Gateway's answer to an unknown route: a wrong base URL, not wrong credentials.
            let (error, message) = Self.apiError(response)
            throw ThingseeError.api(endpoint: endpoint, status: 403, error: error, message: message)
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

extension Duration {
    /// Whole nanoseconds, for metrics.
    var nanoseconds: Int64 {
        components.seconds &* 1_000_000_000 &+ components.attoseconds / 1_000_000_000
    }
}
