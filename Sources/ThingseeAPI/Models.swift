import Foundation

/// A Thingsee device identifier: a 6-character model code and an 11-character serial.
public enum TUID {
    /// Whether `text` has the shape of a TUID: 17 upper-case ASCII letters or digits.
    public static func isValid(_ text: String) -> Bool {
        text.utf8.count == 17 && text.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }
    }
}

/// Device lifecycle status, as `POST /things/{tuid}/installations` takes it.
public enum InstallationStatus: String, Sendable, CaseIterable, Codable {
    case new, installed, uninstalled, quarantine, retired
}

/// The configuration command ids the API accepts, with the parameter names each takes.
public enum CommandCatalog {
    public static let parameters: [Int: [String]] = [
        1500: ["measurementInterval", "reportInterval"],
        1501: ["nodeRole", "autoRole", "lowLatency"],
        12200: ["accelerometerMode", "weatherMode", "hallMode", "leakageMode"],
        13200: ["threshold", "enableLed", "mode", "passiveReportInterval"],
    ]
    public static var ids: [Int] { parameters.keys.sorted() }
}

/// `GET /things/{tuid}`.
public struct ThingInfo: Sendable, Equatable {
    public var batteryLevel: Double?
    public var timestamp: Int64?
    public var latitude: Double?
    public var longitude: Double?
    public var gatewayTUID: String?
    public var version: String?
    /// The `data` object as received, unknown keys included.
    public var raw: JSONValue
}

/// Messages read from the API, with the count of rows skipped because a client cannot use them.
public struct MessageBatch: Sendable, Equatable {
    public var messages: [Message]
    /// Rows skipped because a client cannot use them (no `tsmTuid`, as outgoing command rows; network-down
    /// events without `tsmTs`), each counted once.
    public var skipped: Int
    /// Requests it took.
    public var pages: Int

    public init(messages: [Message], skipped: Int, pages: Int) {
        self.messages = messages
        self.skipped = skipped
        self.pages = pages
    }
}

/// One device message: the typed header plus every other property, kept as sent.
public struct Message: Sendable, Equatable {
    public var tsmId: Int
    public var tsmEv: Int
    public var tsmTs: Int64
    public var tsmTuid: String
    public var tsmGw: String?
    public var deploymentGroupId: String?
    public var transactionId: Int?
    /// The message as sent: the header above and every property.
    public var raw: JSONValue

    /// Every key that is not part of the header above. Built on each read from `raw` (a page of messages is
    /// decoded once and most of its messages are only converted for the rules, which look up their few fields
    /// with ``property(_:)``; copying each message's object without its header cost a seventh of a first cycle).
    public var properties: [String: JSONValue] {
        guard case .object(let object) = raw else { return [:] }
        return object.filter { !Self.headerKeys.contains($0.key) }
    }

    /// One property (not a header key), without building ``properties``.
    public func property(_ name: String) -> JSONValue? {
        guard case .object(let object) = raw, !Self.headerKeys.contains(name) else { return nil }
        return object[name]
    }

    /// The key that identifies a message across duplicated deliveries.
    public var deduplicationKey: String { "\(tsmTuid):\(tsmId):\(tsmEv):\(tsmTs)" }

    public static let headerKeys: Set<String> = [
        "tsmId", "tsmEv", "tsmTs", "tsmTuid", "tsmGw", "deploymentGroupId", "transactionId",
    ]
}

/// One alert episode. Times are Unix seconds (the API sends ISO-8601 without a zone, meaning UTC).
public struct AlertEpisode: Sendable, Equatable {
    public var from: Int64
    /// `nil` while the alert is ongoing.
    public var to: Int64?
}

/// `GET /things/{tuid}/alerts`: the episodes of one alert type.
public struct AlertRecord: Sendable, Equatable {
    public var tuid: String
    public var alertType: String
    public var episodes: [AlertEpisode]
    public var raw: JSONValue
}

/// A configuration command to send: `tsmId`, `tsmEv` 30, usually a `transactionId`, and parameters. Without
/// parameters (the header only) it asks the device to echo its current configuration; without a
/// `transactionId` its echo cannot be told from another one's.
public struct Command: Sendable, Equatable {
    public var tsmId: Int
    public var transactionId: Int?
    public var parameters: [(name: String, value: Double)]

    public init(tsmId: Int, transactionId: Int?, parameters: [(name: String, value: Double)] = []) {
        self.tsmId = tsmId
        self.transactionId = transactionId
        self.parameters = parameters
    }

    /// A transaction id in the range the API accepts (0…2147483647).
    public static func randomTransactionID() -> Int { Int.random(in: 1...2_147_483_647) }

    public static func == (a: Command, b: Command) -> Bool {
        a.tsmId == b.tsmId && a.transactionId == b.transactionId
            && a.parameters.map(\.name) == b.parameters.map(\.name)
            && a.parameters.map(\.value) == b.parameters.map(\.value)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["tsmId": .number(Double(tsmId)), "tsmEv": 30]
        if let transactionId { o["transactionId"] = .number(Double(transactionId)) }
        for p in parameters { o[p.name] = .number(p.value) }
        return .object(o)
    }
}

/// `POST /things/{tuid}/commands`: what the API accepted.
public struct CommandReceipt: Sendable, Equatable {
    public var responsible: String?
    /// The commands as the API echoed them back (`tsmDstTuid`, `tsmTs`, parameters…).
    public var commands: [JSONValue]
    public var raw: JSONValue
}

/// One entry of `GET /things/{tuid}/commands`.
public struct CommandHistoryEntry: Sendable, Equatable {
    public var tuid: String?
    public var timestamp: Int64?
    public var responsible: String?
    public var command: JSONValue
    public var raw: JSONValue

    public var tsmId: Int? { command["tsmId"]?.intValue }
    public var transactionId: Int? { command["transactionId"]?.intValue }
}

/// `POST …/installations` and `POST …/group` answer with the device's resulting status and group.
public struct Installation: Sendable, Equatable {
    public var tuid: String?
    public var installationStatus: String?
    public var groupId: String?
    public var raw: JSONValue
}

/// One entry of `GET /things/{tuid}/installations`.
public struct InstallationEntry: Sendable, Equatable {
    public var tuid: String?
    public var installationStatus: String?
    public var timestamp: Int64?
    public var raw: JSONValue
}

/// A deployment group.
public struct Group: Sendable, Equatable {
    public var groupId: String
    public var groupDescription: String?
    public var raw: JSONValue
}

/// `GET /groups/{id}/things`.
public struct GroupThings: Sendable, Equatable {
    public var groupId: String?
    public var tuids: [String]
    public var raw: JSONValue
}

/// `DELETE /groups/{id}`.
public struct GroupDeletion: Sendable, Equatable {
    public var groupId: String?
    public var deleted: Bool
    public var raw: JSONValue
}

/// Filters of `GET /things/{tuid}/messages`.
public struct MessageQuery: Sendable, Equatable {
    public var limit: Int
    public var messageIDs: [Int]
    public var eventIDs: [Int]
    public var from: Int64?
    public var to: Int64?

    public init(limit: Int, messageIDs: [Int] = [], eventIDs: [Int] = [], from: Int64? = nil, to: Int64? = nil) {
        self.limit = limit
        self.messageIDs = messageIDs
        self.eventIDs = eventIDs
        self.from = from
        self.to = to
    }
}
