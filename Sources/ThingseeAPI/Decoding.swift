import Foundation

/// Reads API payloads tolerantly: unknown keys are kept, integers and decimals are interchangeable, numbers may
/// arrive as strings, and lists may hold plain strings or objects. A missing required field names the endpoint
/// and the field.
struct PayloadReader {
    let endpoint: String

    func fail(_ field: String, _ reason: String) -> ThingseeError {
        .decoding(endpoint: endpoint, field: field, reason: reason)
    }

    func object(_ value: JSONValue, _ field: String) throws -> [String: JSONValue] {
        guard let o = value.objectValue else { throw fail(field, "is not an object (got \(kind(value)))") }
        return o
    }

    func array(_ value: JSONValue, _ field: String) throws -> [JSONValue] {
        guard let a = value.arrayValue else { throw fail(field, "is not a list (got \(kind(value)))") }
        return a
    }

    func requiredInt(_ o: [String: JSONValue], _ key: String, in path: String) throws -> Int {
        guard let v = o[key] else { throw fail(path + key, "is missing") }
        guard let i = v.intValue else { throw fail(path + key, "is not an integer (got \(kind(v)))") }
        return i
    }

    func requiredString(_ o: [String: JSONValue], _ key: String, in path: String) throws -> String {
        guard let v = o[key] else { throw fail(path + key, "is missing") }
        guard let s = v.stringValue else { throw fail(path + key, "is not a string (got \(kind(v)))") }
        return s
    }

    func optionalInt(_ o: [String: JSONValue], _ key: String) -> Int? { o[key]?.intValue }
    func optionalDouble(_ o: [String: JSONValue], _ key: String) -> Double? { o[key]?.doubleValue }
    func optionalString(_ o: [String: JSONValue], _ key: String) -> String? {
        guard let v = o[key], !v.isNull else { return nil }
        return v.stringValue
    }

    /// A timestamp given as Unix seconds (number or numeric string) or as ISO-8601 (UTC when no zone is given).
    func optionalTime(_ o: [String: JSONValue], _ key: String) -> Int64? {
        guard let v = o[key], !v.isNull else { return nil }
        if let d = v.doubleValue { return Int64(d >= 1e12 ? d / 1000 : d) }
        if let s = v.stringValue { return ISOTime.parse(s) }
        return nil
    }

    private func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "a list"
        case .object: "an object"
        }
    }

    // MARK: - Models

    func thing(_ data: JSONValue) throws -> ThingInfo {
        let o = try object(data, "data")
        let location = o["location"]?.objectValue
        return ThingInfo(
            batteryLevel: optionalDouble(o, "battery_level"),
            timestamp: optionalTime(o, "timestamp"),
            latitude: location.flatMap { optionalDouble($0, "lat") },
            longitude: location.flatMap { optionalDouble($0, "lon") },
            gatewayTUID: optionalString(o, "gateway_tuid"),
            version: optionalString(o, "version"),
            raw: data)
    }

    /// A message, or `nil` for a row the API documents but a client cannot use: a row without `tsmTuid`
    /// (outgoing command rows carry only `tsmDstTuid`), or a network-down event (`tsmEv` 18) without `tsmTs`.
    /// Anything else that is not a message (not an object, no `tsmId`, values of the wrong type) is a malformed
    /// answer and fails the page, naming the field.
    func message(_ value: JSONValue, index: Int) throws -> Message? {
        let path = "data[\(index)]."
        let o = try object(value, "data[\(index)]")
        let absent = { (key: String) in o[key] == nil || o[key]!.isNull }
        if absent("tsmTuid"), o["tsmId"] != nil { return nil }
        if absent("tsmTs"), optionalInt(o, "tsmEv") == 18 { return nil }
        guard let ts = optionalTime(o, "tsmTs") else {
            throw fail(path + "tsmTs", o["tsmTs"] == nil ? "is missing" : "is not a time")
        }
        return Message(
            tsmId: try requiredInt(o, "tsmId", in: path),
            tsmEv: optionalInt(o, "tsmEv") ?? 0,
            tsmTs: ts,
            tsmTuid: try requiredString(o, "tsmTuid", in: path),
            tsmGw: optionalString(o, "tsmGw"),
            deploymentGroupId: optionalString(o, "deploymentGroupId"),
            transactionId: optionalInt(o, "transactionId"),
            raw: value)
    }

    /// A page's messages, and the documented rows skipped because a client cannot use them.
    func messagesSkippingUnusable(_ data: JSONValue) throws -> (messages: [Message], skipped: [JSONValue]) {
        let items = try array(data, "data")
        var messages: [Message] = []
        messages.reserveCapacity(items.count)
        var skipped: [JSONValue] = []
        for (index, item) in items.enumerated() {
            if let m = try message(item, index: index) { messages.append(m) } else { skipped.append(item) }
        }
        return (messages, skipped)
    }

    func alertingTUIDs(_ data: JSONValue) throws -> [String] {
        // `{"alerting_tuids": [...]}`; tolerate a bare list, and items that are strings or {"tuid": …}.
        let list = try array(data.objectValue?["alerting_tuids"] ?? data, "data.alerting_tuids")
        return try list.enumerated().map { index, item in
            if let s = item.stringValue { return s }
            if let s = item["tuid"]?.stringValue { return s }
            throw fail("data.alerting_tuids[\(index)]", "is neither a TUID nor an object with `tuid`")
        }
    }

    func alertCount(_ data: JSONValue) throws -> Int {
        let value = data.objectValue?["alert_count"] ?? data
        if let n = value.intValue { return n }
        if let s = value.stringValue, let n = Int(s.trimmingCharacters(in: .whitespaces)) { return n }
        throw fail("data.alert_count", value.isNull ? "is missing" : "is not a count (got \(kind(value)))")
    }

    func alerts(_ data: JSONValue) throws -> [AlertRecord] {
        try array(data, "data").enumerated().map { index, value in
            let path = "data[\(index)]."
            let o = try object(value, "data[\(index)]")
            let episodes = try (o["alerts"].map { try array($0, path + "alerts") } ?? []).enumerated().map {
                i, e -> AlertEpisode in
                let eo = try object(e, path + "alerts[\(i)]")
                guard let from = optionalTime(eo, "from") else {
                    throw fail(path + "alerts[\(i)].from", eo["from"] == nil ? "is missing" : "is not a time")
                }
                return AlertEpisode(from: from, to: optionalTime(eo, "to"))
            }
            return AlertRecord(
                tuid: optionalString(o, "tuid") ?? "",
                alertType: try requiredString(o, "alert_type", in: path),
                episodes: episodes,
                raw: value)
        }
    }

    func commandReceipt(_ data: JSONValue) throws -> CommandReceipt {
        let o = try object(data, "data")
        return CommandReceipt(
            responsible: optionalString(o, "responsible"),
            commands: o["commands"]?.arrayValue ?? [],
            raw: data)
    }

    func commandHistory(_ data: JSONValue) throws -> [CommandHistoryEntry] {
        try array(data, "data").enumerated().map { index, value in
            let o = try object(value, "data[\(index)]")
            // Some deployments return the command's fields flat instead of under `command`.
            let command = o["command"] ?? value
            return CommandHistoryEntry(
                tuid: optionalString(o, "tuid") ?? command["tsmDstTuid"]?.stringValue,
                timestamp: optionalTime(o, "timestamp") ?? command["tsmTs"]?.doubleValue.map { Int64($0) },
                responsible: optionalString(o, "responsible"),
                command: command,
                raw: value)
        }
    }

    func installation(_ data: JSONValue) throws -> Installation {
        let o = try object(data, "data")
        return Installation(
            tuid: optionalString(o, "tuid"),
            installationStatus: optionalString(o, "installation_status"),
            groupId: optionalString(o, "group_id"),
            raw: data)
    }

    func installationHistory(_ data: JSONValue) throws -> [InstallationEntry] {
        try array(data, "data").enumerated().map { index, value in
            let o = try object(value, "data[\(index)]")
            return InstallationEntry(
                tuid: optionalString(o, "tuid"),
                installationStatus: optionalString(o, "installation_status") ?? optionalString(o, "status"),
                timestamp: optionalTime(o, "timestamp"),
                raw: value)
        }
    }

    func group(_ value: JSONValue, path: String) throws -> Group {
        let o = try object(value, path)
        return Group(
            groupId: try requiredString(o, "group_id", in: path + "."),
            groupDescription: optionalString(o, "group_description"),
            raw: value)
    }

    func groups(_ data: JSONValue) throws -> [Group] {
        try array(data, "data").enumerated().map { try group($0.element, path: "data[\($0.offset)]") }
    }

    func groupThings(_ data: JSONValue) throws -> GroupThings {
        // `{"group_id", "tuids": [...]}`; tolerate a bare list, and items that are strings or {"tuid": …}.
        let o = data.objectValue
        let list = try array(o?["tuids"] ?? o?["things"] ?? data, "data.tuids")
        let tuids = try list.enumerated().map { index, item -> String in
            if let s = item.stringValue { return s }
            if let s = item["tuid"]?.stringValue { return s }
            throw fail("data.tuids[\(index)]", "is neither a TUID nor an object with `tuid`")
        }
        return GroupThings(groupId: o.flatMap { optionalString($0, "group_id") }, tuids: tuids, raw: data)
    }

    func groupDeletion(_ data: JSONValue) throws -> GroupDeletion {
        let o = try object(data, "data")
        let deleted: Bool =
            switch o["deleted"] {
            case .bool(let b): b
            case let v?: (v.doubleValue ?? 0) != 0
            case nil: true
            }
        return GroupDeletion(groupId: optionalString(o, "group_id"), deleted: deleted, raw: data)
    }
}
