/// One device message, as the engine sees it: the header and the properties a rule may test.
public struct Message: Sendable, Hashable {
    public var tsmId: Int
    public var tsmEv: Int
    /// Device time, Unix seconds.
    public var tsmTs: Int64
    public var tsmTuid: String
    /// Numeric properties in message order (`batl`, `temp`, …).
    public var numbers: [NumberProperty]
    /// Text properties, rare in the catalogue but allowed.
    public var strings: [StringProperty]

    public init(
        tsmId: Int, tsmEv: Int = 10, tsmTs: Int64, tsmTuid: String, numbers: [NumberProperty] = [],
        strings: [StringProperty] = []
    ) {
        self.tsmId = tsmId
        self.tsmEv = tsmEv
        self.tsmTs = tsmTs
        self.tsmTuid = tsmTuid
        self.numbers = numbers
        self.strings = strings
    }

    /// A message with numeric properties given as a literal: `["batl": 19]`.
    public init(tsmId: Int, tsmEv: Int = 10, tsmTs: Int64, tsmTuid: String, values: KeyValuePairs<String, Double>) {
        self.init(
            tsmId: tsmId, tsmEv: tsmEv, tsmTs: tsmTs, tsmTuid: tsmTuid,
            numbers: values.map { NumberProperty(name: $0.key, value: $0.value) })
    }

    /// The de-duplication key of the API: `tsmTuid:tsmId:tsmEv:tsmTs`.
    public var key: String { "\(tsmTuid):\(tsmId):\(tsmEv):\(tsmTs)" }
}

public struct NumberProperty: Sendable, Hashable {
    public var name: String {
        didSet { key = FieldKey(name) }
    }
    public var value: Double
    /// `name` packed for the engine's field look-up, made once with the message.
    private(set) var key: FieldKey

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
        self.key = FieldKey(name)
    }
}

/// A field name of up to 15 ASCII bytes packed into two integers, so that matching a message's properties to the
/// rules' fields compares integers, not strings (a `String` inequality goes through the standard library's
/// comparison routine, and the engine matches every property of every message). Other names get `.none` and are
/// compared as strings. ASCII bytes compare equal exactly when the strings do (no normalization applies).
struct FieldKey: Sendable, Hashable {
    var low: UInt64
    var high: UInt64

    static let none = FieldKey(low: 0, high: 0)

    init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }

    init(_ name: String) {
        var low: UInt64 = 0
        var high: UInt64 = 0
        var count = 0
        for byte in name.utf8 {
            guard byte < 0x80, count < 15 else {
                self = .none
                return
            }
            if count < 8 { low |= UInt64(byte) << (8 * count) } else { high |= UInt64(byte) << (8 * (count - 8)) }
            count += 1
        }
        // The length in the top byte: "a" and "a\0" differ, and no packed name is `.none`.
        self.init(low: low, high: count == 0 ? 0 : high | UInt64(count) << 56)
    }
}

public struct StringProperty: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
