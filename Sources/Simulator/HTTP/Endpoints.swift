import Foundation
import Hummingbird
import HummingbirdCore
import NIOFoundationCompat

/// The API's endpoints: parameters and bodies parsed, then the fleet call behind each route.
struct Endpoints: Sendable {
    typealias Context = SimulatorContext
    typealias Handler = @Sendable (Request, Context) async throws -> Response
    typealias Query = FlatDictionary<Substring, Substring>

    let state: SimulatorState
    /// The largest request body read.
    private static let maxBody = 1 << 20

    /// The token endpoint, which needs no token.
    func registerToken(on api: RouterGroup<Context>) {
        api.post("auth/client-token", use: json { request, _ in try issueToken(try await parse(request)) })
    }

    func register(on api: RouterGroup<Context>) {
        if state.configuration.fleetAlertCalls {
            api.get("things/alerts", use: json { _, _ in try read { $0.alertingTUIDs(now: now()) } })
            api.get("things/alerts/count", use: json { _, _ in try read { $0.alertCount(now: now()) } })
        } else {
            // Answered as an unknown route is, rather than left to `things/:tuid`, which would take `alerts` for a
            // TUID and answer 404.
            let absent = json { _, _ -> JSON in throw APIError.missingAuthenticationToken }
            api.get("things/alerts", use: absent)
            api.get("things/alerts/count", use: absent)
        }
        api.get("things/:tuid", use: json { _, context in
            let tuid = try parameter(context, "tuid")
            return try read { try $0.thingInfo(tuid: tuid, now: now()) }
        })
        api.get("things/:tuid/messages", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let query = try messageQuery(request)
            return try state.withLock { values in
                let result = try values.fleet.messagePage(tuid: tuid, query: query, now: now())
                values.stats.badItems += result.badItems
                return result.page
            }
        })
        api.get("things/:tuid/alerts", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let parameters = request.uri.queryParameters
            let from = try time(parameters, "from")
            let to = try time(parameters, "to")
            return try read { try $0.alerts(tuid: tuid, from: from, to: to, now: now()) }
        })
        api.get("things/:tuid/commands", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let limit = try historyLimit(request)
            return try read { try $0.commandHistory(tuid: tuid, limit: limit) }
        })
        api.post("things/:tuid/commands", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let body = try await parse(request)
            return try change { fleet in
                _ = try fleet.deviceIndex(tuid)
                return try fleet.sendCommands(tuid: tuid, body: body, now: now())
            }
        })
        api.get("things/:tuid/installations", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let limit = try historyLimit(request)
            return try read { try $0.installationHistory(tuid: tuid, limit: limit) }
        })
        api.post("things/:tuid/installations", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let body = try await parse(request)
            return try change { fleet in
                _ = try fleet.deviceIndex(tuid)
                let status = try stringField(body, "installation_status")
                return try fleet.setInstallationStatus(tuid: tuid, status: status, now: now())
            }
        })
        api.get("things/:tuid/group", use: json { _, context in
            let tuid = try parameter(context, "tuid")
            return try read { try $0.thingGroup(tuid: tuid) }
        })
        api.post("things/:tuid/group", use: json { request, context in
            let tuid = try parameter(context, "tuid")
            let body = try await parse(request)
            return try change { fleet in
                _ = try fleet.deviceIndex(tuid)
                return try fleet.assignGroup(tuid: tuid, groupID: stringField(body, "group_id"))
            }
        })
        api.get("groups", use: json { request, _ in
            let limit = try request.uri.queryParameters["limit"].map { try positiveInteger($0, name: "limit") }
            let query = request.uri.queryParameters["q"].map(String.init)
            return try read { $0.listGroups(query: query, limit: limit) }
        })
        api.post("groups", use: json { request, _ in
            let body = try await parse(request)
            let id = try stringField(body, "group_id")
            let description = body["group_description"]?.string ?? ""
            return try change { try $0.createGroup(id: id, description: description) }
        })
        api.get("groups/:groupid/things", use: json { _, context in
            let id = try parameter(context, "groupid")
            return try read { try $0.groupThings(id: id) }
        })
        api.delete("groups/:groupid", use: json { _, context in
            let id = try parameter(context, "groupid")
            return try change { try $0.deleteGroup(id: id) }
        })
        api.post("groups/:groupid/rename", use: json { request, context in
            let id = try parameter(context, "groupid")
            let newID = try stringField(try await parse(request), "group_id")
            return try change { try $0.renameGroup(id: id, to: newID) }
        })
    }

    // MARK: Plumbing

    /// A handler whose JSON is answered as `{"data": …}` and whose `APIError` as the error's body.
    private func json(_ body: @escaping @Sendable (Request, Context) async throws -> JSON) -> Handler {
        { request, context in
            do {
                return Reply.data(try await body(request, context))
            } catch let error as APIError {
                return Reply.error(error)
            }
        }
    }

    private func now() -> Double { state.clock.now() }

    private func read<T: Sendable>(_ body: (Fleet) throws -> T) throws -> T {
        try state.withLock { try body($0.fleet) }
    }

    private func change<T: Sendable>(_ body: (inout Fleet) throws -> T) throws -> T {
        try state.withLock { try body(&$0.fleet) }
    }

    // MARK: Authentication

    private func issueToken(_ json: JSON) throws -> JSON {
        guard let id = json["client_id"]?.string, let secret = json["client_secret"]?.string else {
            throw APIError.badRequest("client_id and client_secret are required")
        }
        let configuration = state.configuration
        guard id == configuration.clientID, secret == configuration.clientSecret else {
            throw APIError.unauthorized("Invalid client credentials")
        }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
        let now = ContinuousClock.now
        let expiry = now + .milliseconds(Int64(configuration.tokenTTL * 1000))
        state.withLock { values in
            values.tokens = values.tokens.filter { $0.value > now }
            values.tokens[token] = expiry
        }
        return .object([("token", .string(token))])
    }

    // MARK: Parameters and bodies

    private func parameter(_ context: Context, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        // Foundation's decoding is skipped for the usual TUID or group id, which has nothing to decode.
        guard raw.utf8.contains(UInt8(ascii: "%")) else { return raw }
        return raw.removingPercentEncoding ?? raw
    }

    private func parse(_ request: Request) async throws -> JSON {
        var request = request
        let body = try await request.collectBody(upTo: Self.maxBody)
        guard let json = JSON.parse(Data(buffer: body)) else { throw APIError.badRequest("The body is not valid JSON") }
        return json
    }

    private func stringField(_ json: JSON, _ key: String) throws -> String {
        guard case .object = json else { throw APIError.badRequest("The body must be a JSON object") }
        guard let value = json[key]?.string else { throw APIError.badRequest("\(key) is required (a string)") }
        return value
    }

    private func positiveInteger(_ text: Substring, name: String) throws -> Int {
        guard let value = Int(text), value > 0 else {
            throw APIError.badRequest("\(name) must be a positive integer")
        }
        return value
    }

    /// `limit` of the installation and command histories: absent or 0 lists all, 1 the newest only.
    private func historyLimit(_ request: Request) throws -> Int? {
        guard let text = request.uri.queryParameters["limit"] else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw APIError.badRequest("limit must be a non-negative integer (0 lists all)")
        }
        return value
    }

    private func time(_ parameters: Query, _ name: String) throws -> Double? {
        guard let text = parameters[Substring(name)] else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw APIError.badRequest("\(name) must be a Unix timestamp in seconds")
        }
        return value
    }

    private func integerList(_ parameters: Query, _ name: String) throws -> Set<Int>? {
        guard let text = parameters[Substring(name)], !text.isEmpty else { return nil }
        var values = Set<Int>()
        for part in text.split(separator: ",") {
            guard let value = Int(part) ?? Int(String(part).trimmingCharacters(in: .whitespaces)) else {
                throw APIError.badRequest("\(name) must be a comma-separated list of integers")
            }
            values.insert(value)
        }
        return values
    }

    private func messageQuery(_ request: Request) throws -> Fleet.MessageQuery {
        // Parsed once: each `queryParameters` read splits and decodes the whole query again.
        let parameters = request.uri.queryParameters
        guard let limitText = parameters["limit"] else {
            throw APIError.badRequest("limit is required")
        }
        return Fleet.MessageQuery(
            limit: try positiveInteger(limitText, name: "limit"),
            messageIDs: try integerList(parameters, "messageid"),
            eventIDs: try integerList(parameters, "eventid"),
            from: try time(parameters, "from"),
            to: try time(parameters, "to"))
    }
}
