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
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
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
