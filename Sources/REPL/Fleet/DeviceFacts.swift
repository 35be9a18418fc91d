import ThingseeAPI

/// What was fetched about one device for the fleet view and `--where`.
public struct DeviceFacts: Sendable {
    public var tuid: String
    public var group: String?
    public var status: String?
    /// Thing info's `battery_level`.
    public var batteryLevel: Double?
    /// Thing info's `timestamp`: the device's last report.
    public var lastSeen: Int64?
    public var firmware: String?
    public var gateway: String?
    /// Alert episodes within the look-back, when fetched.
    public var alerts: [(type: String, from: Int64, to: Int64?)]?
    /// Messages read for the fields of `--where` and the battery, oldest first.
    public var messages: [Message] = []
    /// What has been fetched, so that no fact is fetched twice.
    var fetched: Set<FleetFact> = []

    public init(tuid: String, group: String? = nil) {
        self.tuid = tuid
        self.group = group
    }

    /// The newest `batl`, else thing info's `battery_level` (what a rule's `battery` reads).
    public var battery: Double? {
        let batl = messages.last { $0.property("batl")?.doubleValue != nil }
        return batl?.property("batl")?.doubleValue ?? batteryLevel
    }

    /// Open alerts at `now`.
    public func openAlerts(at now: Int64) -> [String]? {
        alerts.map { list in list.filter { $0.from <= now && ($0.to.map { $0 > now } ?? true) }.map(\.type) }
    }
}

/// One kind of request the fleet view may need per device.
enum FleetFact: Hashable, Sendable {
    /// `GET /things/{tuid}`.
    case thing
    /// `GET …/installations?limit=1`.
    case status
    /// `GET …/alerts` over the look-back.
    case alerts
    /// `GET /things/{tuid}/group`.
    case group
    /// The newest message of one message id (`nil`: every message of the look-back).
    case messages(Int?)
    /// Thing info, only when no `batl` was read: the fallback of `battery`.
    case batteryFallback
}

/// The columns of `things`.
public enum FleetColumn: String, Sendable, CaseIterable {
    case tuid, model, kind, group, status, battery
    case lastSeen = "last_seen"
    case silence, alerts, firmware, gateway

    /// What must be fetched to fill the column.
    var facts: [FleetFact] {
        switch self {
        case .tuid, .model, .kind: []
        case .group: [.group]
        case .status: [.status]
        case .battery: [.messages(1110), .batteryFallback]
        case .lastSeen, .silence, .firmware, .gateway: [.thing]
        case .alerts: [.alerts]
        }
    }

    /// Whether the column sorts as a number.
    var isNumeric: Bool { self == .battery || self == .silence || self == .alerts || self == .lastSeen }

    /// Parses `--columns tuid,battery,group`.
    static func parseList(_ text: String) throws(CommandError) -> [FleetColumn] {
        var columns: [FleetColumn] = []
        for name in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let column = try parse(name, flag: "--columns")
            guard !columns.contains(column) else { throw .usage("--columns: `\(name)` is given twice") }
            columns.append(column)
        }
        guard !columns.isEmpty else { throw .usage("--columns takes a comma-separated list of columns") }
        return columns
    }

    static func parse(_ name: String, flag: String) throws(CommandError) -> FleetColumn {
        guard let column = FleetColumn(rawValue: name) else {
            let names = allCases.map(\.rawValue)
            let hint = Suggestion.closest(to: name, among: names).map { "did you mean `\($0)`? " } ?? ""
            throw .usage("\(flag): unknown column `\(name)`; \(hint)columns: \(names.joined(separator: " "))")
        }
        return column
    }
}
