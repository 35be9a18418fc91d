/// Everything the engine knows about one device: latest field values (sample-and-hold), newest message
/// time, alert episodes, installation status, group, firmware and thing-info battery level.
///
/// A plain value: the caller keeps one per device, updates the thing-level facts it fetched, and saves and
/// restores it between runs. Message fields are held only for the fields the loaded rules use.
public struct DeviceObservations: Codable, Equatable, Sendable {
    /// The newest installation status, if fetched.
    public var status: String?
    /// The deployment group, if known.
    public var group: String?
    /// The thing's `version`, if fetched.
    public var firmware: String?
    /// Thing info `battery_level`, the fallback for `battery` when no `batl` was seen.
    public var batteryLevel: Double?
    /// Alert episodes, or nil when alerts were never fetched (then `alert "X"` is unknown).
    public var alerts: [AlertEpisode]?
    /// Set when this cycle's poll of the device failed: the engine then changes nothing and fires nothing.
    public var pollFailed: Bool

    /// tsmTs of the newest message seen.
    public internal(set) var newestMessageTime: Int64?

    var fieldNames: [String]
    var kinds: [UInt8]
    var numbers: [Double]
    var strings: [String]
    var times: [Int64]
    /// `tsmId << 16 | tsmEv` of the messages seen at `newestMessageTime`, to drop re-delivered duplicates.
    var keysAtNewest: [Int]

    static let unseen: UInt8 = 0
    static let number: UInt8 = 1
    static let text: UInt8 = 2

    public init(
        status: String? = nil, group: String? = nil, firmware: String? = nil, batteryLevel: Double? = nil,
        alerts: [AlertEpisode]? = nil
    ) {
        self.status = status
        self.group = group
        self.firmware = firmware
        self.batteryLevel = batteryLevel
        self.alerts = alerts
        self.pollFailed = false
        self.fieldNames = []
        self.kinds = []
        self.numbers = []
        self.strings = []
        self.times = []
        self.keysAtNewest = []
    }

    /// The held value of a message field and its tsmTs, or nil when never seen (or not used by the rules).
    public func latest(_ field: String) -> (value: FieldValue, time: Int64)? {
        guard let slot = fieldNames.firstIndex(of: field) else { return nil }
        return latest(slot: slot)
    }

    func latest(slot: Int) -> (value: FieldValue, time: Int64)? {
        switch kinds[slot] {
        case Self.number: return (.number(numbers[slot]), times[slot])
        case Self.text: return (.text(strings[slot]), times[slot])
        default: return nil
        }
    }

    /// Re-lays the held fields out in `names` order, keeping values by name.
    mutating func bind(to names: [String]) {
        if fieldNames == names { return }
        var kinds = [UInt8](repeating: Self.unseen, count: names.count)
        var numbers = [Double](repeating: 0, count: names.count)
        var strings = [String](repeating: "", count: names.count)
        var times = [Int64](repeating: Int64.min, count: names.count)
        for (slot, name) in names.enumerated() {
            if let old = fieldNames.firstIndex(of: name) {
                kinds[slot] = self.kinds[old]
                numbers[slot] = self.numbers[old]
                strings[slot] = self.strings[old]
                times[slot] = self.times[old]
            }
        }
        self.fieldNames = names
        self.kinds = kinds
        self.numbers = numbers
        self.strings = strings
        self.times = times
    }
}

/// A field's value: numeric for nearly every catalogue field.
public enum FieldValue: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case text(String)

    public var description: String {
        switch self {
        case .number(let n): return formatNumber(n)
        case .text(let s): return s
        }
    }
}

/// One alert episode of a device. Open while `to` is nil or later than the evaluation time.
public struct AlertEpisode: Codable, Hashable, Sendable {
    public var type: String
    public var from: Int64
    public var to: Int64?

    public init(type: String, from: Int64, to: Int64? = nil) {
        self.type = type
        self.from = from
        self.to = to
    }

    public func isOpen(at time: Int64) -> Bool {
        from <= time && (to.map { $0 > time } ?? true)
    }
}
