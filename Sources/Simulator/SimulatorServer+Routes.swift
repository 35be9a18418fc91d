import FlyingFox
import Foundation

/// The endpoints: authentication, parameter parsing, and the fleet call behind each route.
extension SimulatorServer {
    func answer(_ request: HTTPRequest, route: Route?, body: Data) throws -> JSON {
        guard let route else { throw unknown(request) }
        let method = request.method
        let now = clock.now()
        if route == .clientToken {
            guard method == .POST else { throw unknown(request) }
            return try issueToken(body)
        }
        try authenticate(request)
        switch (route, method) {
        case (.thing(let tuid), .GET):
            return try fleet.thingInfo(tuid: decode(tuid), now: now)
        case (.messages(let tuid), .GET):
            return try fleet.messagesJSON(tuid: decode(tuid), query: messageQuery(request.query), now: now)
        case (.alerts(let tuid), .GET):
            let tuid = try decode(tuid)
            _ = try fleet.deviceIndex(tuid)
            return try fleet.alerts(
                tuid: tuid, from: time(request.query, "from"), to: time(request.query, "to"), now: now)
        case (.commands(let tuid), .GET):
            return try fleet.commandHistory(tuid: decode(tuid))
        case (.commands(let tuid), .POST):
            let tuid = try decode(tuid)
            _ = try fleet.deviceIndex(tuid)
            return try fleet.sendCommands(tuid: tuid, body: parse(body), now: now)
        case (.installations(let tuid), .GET):
            return try fleet.installationHistory(tuid: decode(tuid))
        case (.installations(let tuid), .POST):
            let tuid = try decode(tuid)
            _ = try fleet.deviceIndex(tuid)
            let status = try stringField(parse(body), "installation_status")
            return try fleet.setInstallationStatus(tuid: tuid, status: status, now: now)
        case (.thingGroup(let tuid), .POST):
            let tuid = try decode(tuid)
            _ = try fleet.deviceIndex(tuid)
            return try fleet.assignGroup(tuid: tuid, groupID: stringField(parse(body), "group_id"))
        case (.groups, .GET):
            let limit = try request.query["limit"].map { try positiveInteger($0, name: "limit") }
            return fleet.listGroups(query: request.query["q"], limit: limit)
        case (.groups, .POST):
            let json = try parse(body)
            let description = json["group_description"]?.string ?? ""
            return try fleet.createGroup(id: stringField(json, "group_id"), description: description)
        case (.groupThings(let id), .GET):
            return try fleet.groupThings(id: decode(id))
        case (.group(let id), .DELETE):
            return try fleet.deleteGroup(id: decode(id))
        default:
            throw unknown(request)
        }
    }

    private func unknown(_ request: HTTPRequest) -> APIError {
        .notFound("No route for \(request.method.rawValue) \(request.path)")
    }

    // MARK: Authentication

    private func issueToken(_ body: Data) throws -> JSON {
        let json = try parse(body)
        guard let id = json["client_id"]?.string, let secret = json["client_secret"]?.string else {
            throw APIError.badRequest("client_id and client_secret are required")
        }
        guard id == configuration.clientID, secret == configuration.clientSecret else {
            throw APIError.unauthorized("Invalid client credentials")
        }
        let now = ContinuousClock.now
        tokens = tokens.filter { $0.value > now }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }
            .map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
        tokens[token] = now + .milliseconds(Int64(configuration.tokenTTL * 1000))
        return .object([("token", .string(token))])
    }

    private func authenticate(_ request: HTTPRequest) throws {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("Missing Authorization header")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("Authorization must be a Bearer token")
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        guard let expiry = tokens[token] else { throw APIError.unauthorized("Unknown token") }
        guard expiry > ContinuousClock.now else {
            tokens[token] = nil
            throw APIError.unauthorized("The token has expired")
        }
    }

    // MARK: Parameters and bodies

    private func decode(_ component: String) throws -> String {
        component.removingPercentEncoding ?? component
    }

    private func parse(_ body: Data) throws -> JSON {
        guard let json = JSON.parse(body) else { throw APIError.badRequest("The body is not valid JSON") }
        return json
    }

    private func stringField(_ json: JSON, _ key: String) throws -> String {
        guard case .object = json else { throw APIError.badRequest("The body must be a JSON object") }
        guard let value = json[key]?.string else { throw APIError.badRequest("\(key) is required (a string)") }
        return value
    }

    private func positiveInteger(_ text: String, name: String) throws -> Int {
        guard let value = Int(text), value > 0 else {
            throw APIError.badRequest("\(name) must be a positive integer")
        }
        return value
    }

    private func time(_ query: [HTTPRequest.QueryItem], _ name: String) throws -> Double? {
        guard let text = query[name] else { return nil }
        guard let value = Double(text), value.isFinite else {
            throw APIError.badRequest("\(name) must be a Unix timestamp in seconds")
        }
        return value
    }

    private func integerList(_ query: [HTTPRequest.QueryItem], _ name: String) throws -> Set<Int>? {
        guard let text = query[name], !text.isEmpty else { return nil }
        var values = Set<Int>()
        for part in text.split(separator: ",") {
            guard let value = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.badRequest("\(name) must be a comma-separated list of integers")
            }
            values.insert(value)
        }
        return values
    }

    private func messageQuery(_ query: [HTTPRequest.QueryItem]) throws -> Fleet.MessageQuery {
        guard let limitText = query["limit"] else { throw APIError.badRequest("limit is required") }
        return Fleet.MessageQuery(
            limit: try positiveInteger(limitText, name: "limit"),
            messageIDs: try integerList(query, "messageid"),
            eventIDs: try integerList(query, "eventid"),
            from: try time(query, "from"),
            to: try time(query, "to"))
    }
}
