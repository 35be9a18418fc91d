import Foundation

/// Everything the engine knows about one device: each field's latest value (sample-and-hold) and, for the
/// fields that windows and `for` need, its recent reports; newest message time, alert episodes, installation
/// status, group, firmware and thing-info facts.
///
/// A plain value: the caller keeps one per device, updates the thing-level facts it fetched, and saves and
/// restores it between runs (JSON). History is bounded per field (`RuleSet.maxSamplesPerField`).
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
    /// Thing info's `timestamp` (the device's last report, per the API): `silence` counts from it while no
    /// message of the device has been seen.
    public var lastReportAt: Int64?
    /// When tsee first listed the device: `silence` counts from it when nothing else is known.
    public var firstListedAt: Int64?

    /// tsmTs of the newest message seen.
    public internal(set) var newestMessageTime: Int64?
    /// Messages whose tsmTs was more than 5 minutes after the evaluation clock, taken as that clock.
    public internal(set) var clockErrors: Int

    var fieldNames: [String]
    var kinds: [UInt8]
    var numbers: [Double]
    var strings: [String]
    var times: [Int64]
    /// Recent reports per slot (empty when no rule needs a field's history), sorted by time.
    var history: [Series]
    /// Recent messages, sorted by time: de-duplication and `silence` replay.
    var messages: [Stamp]
    /// The alert episodes seen at the previous evaluation, to notice episodes first seen late.
    var alertsSeen: [AlertEpisode]?

    static let unseen: UInt8 = 0
    static let number: UInt8 = 1
    static let text: UInt8 = 2

    /// One report of a field.
    struct Sample: Equatable, Sendable {
        var time: Int64
        /// NaN for a text report (unknown in windows).
        var value: Double
    }

    /// The reports of one field, times ascending, in one array (one allocation, one append per report).
    struct Series: Codable, Equatable, Sendable {
        var samples: [Sample] = []

        init() {}

        enum CodingKeys: String, CodingKey { case times, values }

        // JSON has no NaN: text reports are saved as null.
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let times = try c.decode([Int64].self, forKey: .times)
            let values = try c.decode([Double?].self, forKey: .values)
            guard times.count == values.count else {
                throw DecodingError.dataCorruptedError(
                    forKey: .values, in: c, debugDescription: "times and values of different lengths")
            }
            samples = zip(times, values).map { Sample(time: $0, value: $1 ?? .nan) }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(samples.map(\.time), forKey: .times)
            try c.encode(samples.map { $0.value.isFinite ? $0.value : nil }, forKey: .values)
        }

        /// The index of the last sample at or before `time`.
        @inline(__always)
        func lastIndex(atOrBefore time: Int64) -> Int? {
            var low = 0
            var high = samples.count
            while low < high {
                let mid = (low + high) / 2
                if samples[mid].time <= time { low = mid + 1 } else { high = mid }
            }
            return low > 0 ? low - 1 : nil
        }
    }

    /// A recent message: its tsmTs and `tsmId << 16 | tsmEv`.
    struct Stamp: Codable, Equatable, Sendable {
        var time: Int64
        var key: Int
    }

    /// Stamps as base64 of 16 little-endian bytes each (time, then key): one string value for `JSONDecoder`
    /// instead of two numbers and an object per message.
    static func packStamps(_ stamps: [Stamp]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(stamps.count * 16)
        for stamp in stamps {
            withUnsafeBytes(of: stamp.time.littleEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: Int64(stamp.key).littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Data(bytes).base64EncodedString()
    }

    static func unpackStamps(_ text: String) -> [Stamp]? {
        guard let data = Data(base64Encoded: text), data.count % 16 == 0 else { return nil }
        return data.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: 16).map { offset in
                Stamp(
                    time: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)),
                    key: Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: Int64.self))))
            }
        }
    }

    public init(
        status: String? = nil, group: String? = nil, firmware: String? = nil, batteryLevel: Double? = nil,
        alerts: [AlertEpisode]? = nil, lastReportAt: Int64? = nil, firstListedAt: Int64? = nil
    ) {
        self.status = status
        self.group = group
        self.firmware = firmware
        self.batteryLevel = batteryLevel
        self.alerts = alerts
        self.pollFailed = false
        self.lastReportAt = lastReportAt
        self.firstListedAt = firstListedAt
        self.clockErrors = 0
        self.fieldNames = []
        self.kinds = []
        self.numbers = []
        self.strings = []
        self.times = []
        self.history = []
        self.messages = []
    }

    enum CodingKeys: String, CodingKey {
        case status, group, firmware, batteryLevel, alerts, pollFailed, lastReportAt, firstListedAt
        case newestMessageTime, clockErrors, fieldNames, kinds, numbers, strings, times, history
        /// Recent messages packed (``packStamps(_:)``); `messages` (an object per message) is what older tsee wrote.
        case messageStamps, messages, alertsSeen
    }

    /// Saved state is read at every start and written every cycle: the recent messages (a day of them when a
    /// rule looks back a day) go packed into one string, not as an object per message, which `JSONDecoder`
    /// spent most of a start-up on.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(status, forKey: .status)
        try c.encodeIfPresent(group, forKey: .group)
        try c.encodeIfPresent(firmware, forKey: .firmware)
        try c.encodeIfPresent(batteryLevel, forKey: .batteryLevel)
        try c.encodeIfPresent(alerts, forKey: .alerts)
        try c.encode(pollFailed, forKey: .pollFailed)
        try c.encodeIfPresent(lastReportAt, forKey: .lastReportAt)
        try c.encodeIfPresent(firstListedAt, forKey: .firstListedAt)
        try c.encodeIfPresent(newestMessageTime, forKey: .newestMessageTime)
        try c.encode(clockErrors, forKey: .clockErrors)
        try c.encode(fieldNames, forKey: .fieldNames)
        try c.encode(kinds, forKey: .kinds)
        try c.encode(numbers, forKey: .numbers)
        try c.encode(strings, forKey: .strings)
        try c.encode(times, forKey: .times)
        try c.encode(history, forKey: .history)
        try c.encode(Self.packStamps(messages), forKey: .messageStamps)
        try c.encodeIfPresent(alertsSeen, forKey: .alertsSeen)
    }

    /// Decodes tolerantly: state saved by an older tsee (without history) keeps its held values.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            status: try c.decodeIfPresent(String.self, forKey: .status),
            group: try c.decodeIfPresent(String.self, forKey: .group),
            firmware: try c.decodeIfPresent(String.self, forKey: .firmware),
            batteryLevel: try c.decodeIfPresent(Double.self, forKey: .batteryLevel),
            alerts: try c.decodeIfPresent([AlertEpisode].self, forKey: .alerts),
            lastReportAt: try c.decodeIfPresent(Int64.self, forKey: .lastReportAt),
            firstListedAt: try c.decodeIfPresent(Int64.self, forKey: .firstListedAt))
        pollFailed = try c.decodeIfPresent(Bool.self, forKey: .pollFailed) ?? false
        newestMessageTime = try c.decodeIfPresent(Int64.self, forKey: .newestMessageTime)
        clockErrors = try c.decodeIfPresent(Int.self, forKey: .clockErrors) ?? 0
        let names = try c.decodeIfPresent([String].self, forKey: .fieldNames) ?? []
        let kinds = try c.decodeIfPresent([UInt8].self, forKey: .kinds) ?? []
        let numbers = try c.decodeIfPresent([Double].self, forKey: .numbers) ?? []
        let strings = try c.decodeIfPresent([String].self, forKey: .strings) ?? []
        let times = try c.decodeIfPresent([Int64].self, forKey: .times) ?? []
        var history = try c.decodeIfPresent([Series].self, forKey: .history) ?? []
        let n = names.count
        guard kinds.count == n, numbers.count == n, strings.count == n, times.count == n else {
            throw DecodingError.dataCorruptedError(
                forKey: .fieldNames, in: c, debugDescription: "field arrays of different lengths")
        }
        if history.count != n { history = Array(repeating: Series(), count: n) }
        (fieldNames, self.kinds, self.numbers, self.strings, self.times, self.history) =
            (names, kinds, numbers, strings, times, history)
        if let packed = try c.decodeIfPresent(String.self, forKey: .messageStamps) {
            guard let stamps = Self.unpackStamps(packed) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .messageStamps, in: c, debugDescription: "not a packed list of message stamps")
            }
            messages = stamps
        } else {
            messages = try c.decodeIfPresent([Stamp].self, forKey: .messages) ?? []
        }
        alertsSeen = try c.decodeIfPresent([AlertEpisode].self, forKey: .alertsSeen)
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
        var history = [Series](repeating: Series(), count: names.count)
        for (slot, name) in names.enumerated() {
            if let old = fieldNames.firstIndex(of: name) {
                kinds[slot] = self.kinds[old]
                numbers[slot] = self.numbers[old]
                strings[slot] = self.strings[old]
                times[slot] = self.times[old]
                if old < self.history.count { history[slot] = self.history[old] }
            }
        }
        self.fieldNames = names
        self.kinds = kinds
        self.numbers = numbers
        self.strings = strings
        self.times = times
        self.history = history
    }

    // MARK: Values as of a device time

    /// The value of `slot` as of `time`: the latest report at or before it. Kind `unseen` when none.
    @inline(__always)
    func number(slot: Int, at time: Int64) -> Double? {
        if times[slot] <= time {
            return kinds[slot] == Self.number ? numbers[slot] : nil
        }
        guard let i = history[slot].lastIndex(atOrBefore: time) else { return nil }
        let v = history[slot].samples[i].value
        return v.isNaN ? nil : v
    }

    /// The text of `slot` as of `time` (a number spelt as text); nil when unknown.
    func text(slot: Int, at time: Int64) -> String? {
        if times[slot] <= time {
            switch kinds[slot] {
            case Self.text: return strings[slot]
            case Self.number: return formatNumber(numbers[slot])
            default: return nil
            }
        }
        return number(slot: slot, at: time).map(formatNumber)
    }

    /// Whether the device had reported `slot` at or before `time`.
    func hasReported(slot: Int, at time: Int64) -> Bool {
        if kinds[slot] == Self.unseen { return false }
        if times[slot] <= time { return true }
        return history[slot].samples.first.map { $0.time <= time } ?? false
    }

    /// The newest message time at or before `time`, else thing info's last report, else when first listed.
    func silenceBase(at time: Int64) -> Int64? {
        if let newest = newestMessageTime {
            if newest <= time { return newest }
            if let i = Self.lastMessage(messages, atOrBefore: time) { return messages[i].time }
        }
        if let last = lastReportAt, last <= time { return last }
        if let first = firstListedAt, first <= time { return first }
        return nil
    }

    /// A window's value over reports of `slot` with time in (to − seconds, to]; NaN when unknown.
    func window(_ function: WindowFunction, slot: Int, seconds: Int64, to: Int64) -> Double {
        let series = history[slot]
        let from = to &- seconds
        guard let last = series.lastIndex(atOrBefore: to) else {
            return function == .count ? 0 : .nan
        }
        var i = last
        var count = 0.0
        var sum = 0.0
        var low = Double.infinity
        var high = -Double.infinity
        var oldest = Double.nan
        var newest = Double.nan
        while i >= 0 && series.samples[i].time > from {
            let v = series.samples[i].value
            if !v.isNaN {
                count += 1
                sum += v
                low = Swift.min(low, v)
                high = Swift.max(high, v)
                if newest.isNaN { newest = v }
                oldest = v
            }
            i -= 1
        }
        switch function {
        case .count: return count
        case .avg: return count > 0 ? sum / count : .nan
        case .min: return count > 0 ? low : .nan
        case .max: return count > 0 ? high : .nan
        case .delta: return count > 0 ? newest - oldest : .nan
        }
    }

    /// The index of the last message at or before `time`.
    @inline(__always)
    static func lastMessage(_ messages: [Stamp], atOrBefore time: Int64) -> Int? {
        var low = 0
        var high = messages.count
        while low < high {
            let mid = (low + high) / 2
            if messages[mid].time <= time { low = mid + 1 } else { high = mid }
        }
        return low > 0 ? low - 1 : nil
    }

    // MARK: Recording

    /// Whether a message with this time and key was already recorded; records it if not.
    mutating func recordMessage(time: Int64, key: Int) -> Bool {
        if let last = messages.last, last.time < time {
            messages.append(Stamp(time: time, key: key))
            return true
        }
        let i = DeviceObservations.lastMessage(messages, atOrBefore: time).map { $0 + 1 } ?? 0
        var j = i - 1
        while j >= 0 && messages[j].time == time {
            if messages[j].key == key { return false }
            j -= 1
        }
        messages.insert(Stamp(time: time, key: key), at: i)
        return true
    }

    /// Records a numeric report: the held value when it is the newest, the history when `keep`.
    mutating func record(slot: Int, time: Int64, number: Double, keep: Bool) {
        if time >= times[slot] {
            kinds[slot] = Self.number
            numbers[slot] = number
            times[slot] = time
        }
        if keep { insert(slot: slot, time: time, value: number) }
    }

    mutating func record(slot: Int, time: Int64, text: String, keep: Bool) {
        if time >= times[slot] {
            kinds[slot] = Self.text
            strings[slot] = text
            times[slot] = time
        }
        if keep { insert(slot: slot, time: time, value: .nan) }
    }

    private mutating func insert(slot: Int, time: Int64, value: Double) {
        if let last = history[slot].samples.last, last.time > time {
            let i = history[slot].lastIndex(atOrBefore: time).map { $0 + 1 } ?? 0
            history[slot].samples.insert(Sample(time: time, value: value), at: i)
        } else {
            history[slot].samples.append(Sample(time: time, value: value))
        }
    }

    /// Drops reports no rule can need any more: older than `seconds` before `now` beyond the newest `count`,
    /// and never more than `cap` per field.
    mutating func trim(slot: Int, seconds: Int64, count: Int, cap: Int, now: Int64) {
        let n = history[slot].samples.count
        guard n > count else { return }
        let oldestKept = now &- seconds
        // Usually nothing is old enough to go: decide that without copying the series.
        if n <= cap && history[slot].samples[0].time > oldestKept { return }
        var drop = 0
        while drop < n - count && history[slot].samples[drop].time <= oldestKept { drop += 1 }
        drop = Swift.max(drop, n - cap)
        if drop > 0 { history[slot].samples.removeFirst(drop) }
    }

    mutating func trimMessages(seconds: Int64, cap: Int, now: Int64) {
        guard messages.count > 1 else { return }
        let oldestKept = now &- seconds
        if messages.count <= cap && messages[0].time > oldestKept { return }
        var drop = 0
        // Keep at least the newest time's keys, for de-duplication.
        while drop < messages.count - 1 && messages[drop].time <= oldestKept { drop += 1 }
        drop = Swift.max(drop, messages.count - cap)
        if drop > 0 { messages.removeFirst(drop) }
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
