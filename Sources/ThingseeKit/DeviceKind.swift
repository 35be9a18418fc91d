/// What a device is, read off its model prefix.
public enum DeviceKind: String, Sendable, Hashable, Codable, CaseIterable {
    case environment
    case presence
    case gateway
    case airQuality = "air-quality"
    case distance
    case angle
    case leakage
    case peopleCounter = "people-counter"
    case unknown

    /// Model prefixes and their kinds; `TSPD0` covers `TSPD01`…`TSPD09`.
    public static let prefixes: [(prefix: String, kind: DeviceKind)] = [
        ("TSPD0", .environment), ("TSEN01", .environment), ("TSPR0", .presence), ("TSGW0", .gateway),
        ("TSAR0", .airQuality), ("TSTF0", .distance), ("TSAN01", .angle), ("TSLK0", .leakage),
        ("TSAP01", .peopleCounter),
    ]

    /// The kind of a TUID or model code; `.unknown` for a prefix outside the documented list.
    public init(tuid: String) {
        // Read the first six bytes once: this runs for every device at every evaluation.
        var b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        var n = 0
        for byte in tuid.utf8.prefix(6) {
            switch n {
            case 0: b.0 = byte
            case 1: b.1 = byte
            case 2: b.2 = byte
            case 3: b.3 = byte
            case 4: b.4 = byte
            default: b.5 = byte
            }
            n += 1
        }
        guard n == 6, b.0 == 0x54, b.1 == 0x53 else {  // "TS"
            self = .unknown
            return
        }
        let digit = b.5 >= 0x30 && b.5 <= 0x39
        switch (b.2, b.3, b.4) {
        case (0x50, 0x44, 0x30) where digit: self = .environment  // TSPD0x
        case (0x45, 0x4E, 0x30) where b.5 == 0x31: self = .environment  // TSEN01
        case (0x50, 0x52, 0x30) where digit: self = .presence  // TSPR0x
        case (0x47, 0x57, 0x30) where digit: self = .gateway  // TSGW0x
        case (0x41, 0x52, 0x30) where digit: self = .airQuality  // TSAR0x
        case (0x54, 0x46, 0x30) where digit: self = .distance  // TSTF0x
        case (0x41, 0x4E, 0x30) where b.5 == 0x31: self = .angle  // TSAN01
        case (0x4C, 0x4B, 0x30) where digit: self = .leakage  // TSLK0x
        case (0x41, 0x50, 0x30) where b.5 == 0x31: self = .peopleCounter  // TSAP01
        default: self = .unknown
        }
    }

    /// The same mapping, read off `prefixes` (kept as the documented table and checked against `init(tuid:)`).
    static func lookUp(_ tuid: String) -> DeviceKind {
        for (prefix, kind) in Self.prefixes where tuid.hasPrefix(prefix) {
            // `TSPD0x`: one more character, a digit.
            if prefix.count == 5 {
                let next = tuid.utf8.dropFirst(5).first
                guard let next, next >= 0x30, next <= 0x39 else { continue }
            }
            return kind
        }
        return .unknown
    }
}
