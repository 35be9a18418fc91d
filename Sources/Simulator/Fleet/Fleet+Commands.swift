/// `POST` and `GET /things/{tuid}/commands`: configuration commands, their effect and their echo.
extension Fleet {
    static let responsible = "api-user"
    private static let headerKeys: Set<String> = ["tsmId", "tsmEv", "transactionId", "tsmTs", "tsmDstTuid"]

    /// Accepts a batch of commands (all or none), updates the device's configuration and schedules the echoes.
    ///
    /// A command without parameters (its header only) changes nothing and is echoed with the current values; a
    /// command without `transactionId` is accepted and echoed without one.
    mutating func sendCommands(tuid: String, body: JSON, now: Double) throws -> JSON {
        let index = try deviceIndex(tuid)
        guard case .array(let commands) = body, !commands.isEmpty else {
            throw APIError.badRequest("Body must be a non-empty JSON array of commands")
        }
        let validated = try commands.map(validate)
        let timestamp = now.rounded(.down)
        var accepted: [JSON] = []
        for (tsmID, transactionID, parameters) in validated {
            let echoed = JSON.object(
                [
                    ("tsmEv", .int(30)), ("tsmId", .int(tsmID)), ("tsmTs", .int(Int(timestamp))),
                    ("tsmDstTuid", .string(tuid)),
                ] + parameters + (transactionID.map { [("transactionId", JSON.int($0))] } ?? []))
            accepted.append(echoed)
            let echoAt = (timestamp + echoDelay).rounded(.up)
            let values = applyConfig(index: index, tsmID: tsmID, parameters: parameters)
            states[index].commands.append(
                CommandRecord(
                    timestamp: timestamp, command: echoed, tsmID: tsmID, transactionID: transactionID,
                    echoAt: echoAt, echoValues: values))
            if tsmID == 1500, let interval = values.first(where: { $0.0 == "reportInterval" })?.1 {
                // The new cadence starts when the device takes the configuration (its echo); history before stays.
                let start = echoAt + 0.5
                states[index].segments.removeAll { $0.start >= start }
                states[index].segments.append(ScheduleSegment(start: start, anchor: echoAt, interval: Double(interval)))
            }
        }
        return .object([("responsible", .string(Self.responsible)), ("commands", .array(accepted))])
    }

    private func validate(_ command: JSON) throws -> (Int, Int?, [(String, JSON)]) {
        guard case .object(let pairs) = command else {
            throw APIError.badRequest("Each command must be a JSON object")
        }
        guard let idValue = command["tsmId"]?.number, idValue == idValue.rounded(),
            CommandCatalogue.allowedIDs.contains(Int(idValue))
        else {
            let ids = CommandCatalogue.allowedIDs.sorted().map(String.init).joined(separator: ", ")
            throw APIError.badRequest("tsmId must be one of \(ids)")
        }
        let tsmID = Int(idValue)
        guard let event = command["tsmEv"]?.number, event == 30 else {
            throw APIError.badRequest("tsmEv must be 30")
        }
        var transactionID: Int?
        if let value = command["transactionId"] {
            guard let tx = value.number, tx == tx.rounded(), tx >= 0, tx <= Double(CommandCatalogue.maxTransactionID)
            else {
                throw APIError.badRequest("transactionId must be an integer in 0...2147483647")
            }
            transactionID = Int(tx)
        }
        let parameters = pairs.filter { !Self.headerKeys.contains($0.0) }
        let known = Set(CommandCatalogue.parameters(for: tsmID, reportInterval: 0).map(\.name))
        for (key, value) in parameters where known.contains(key) && value.number == nil {
            throw APIError.badRequest("\(key) must be a number")
        }
        return (tsmID, transactionID, parameters)
    }

    /// Applies known parameters, clamped to their ranges, and returns all current values of that config.
    private mutating func applyConfig(index: Int, tsmID: Int, parameters: [(String, JSON)]) -> [(String, Int)] {
        let interval = Int(states[index].segments.last?.interval ?? 600)
        let catalogue = CommandCatalogue.parameters(for: tsmID, reportInterval: interval)
        var values = states[index].config[tsmID] ?? CommandCatalogue.defaults(for: tsmID, reportInterval: interval)
        for (position, parameter) in catalogue.enumerated() {
            guard let number = parameters.first(where: { $0.0 == parameter.name })?.1.number else { continue }
            let rounded = number.rounded()
            let clamped = min(
                Double(parameter.range.upperBound), max(Double(parameter.range.lowerBound), rounded))
            values[position] = (parameter.name, Int(clamped))
        }
        if CommandCatalogue.keepsUnknownParameters.contains(tsmID) {
            // Ids whose parameters the API document does not list: numeric ones are kept and echoed as sent.
            for (name, value) in parameters where !catalogue.contains(where: { $0.name == name }) {
                guard let number = value.number else { continue }
                if let position = values.firstIndex(where: { $0.0 == name }) {
                    values[position].1 = Int(number.rounded())
                } else {
                    values.append((name, Int(number.rounded())))
                }
            }
        }
        states[index].config[tsmID] = values
        return values
    }

    /// The command history, newest first; `limit` 0 or nil lists all.
    func commandHistory(tuid: String, limit: Int? = nil) throws -> JSON {
        let index = try deviceIndex(tuid)
        let limit = limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        return .array(
            states[index].commands.reversed().prefix(limit).map { record in
                .object([
                    ("tuid", .string(tuid)), ("timestamp", .int(Int(record.timestamp))),
                    ("responsible", .string(Self.responsible)), ("command", record.command),
                ])
            })
    }
}
