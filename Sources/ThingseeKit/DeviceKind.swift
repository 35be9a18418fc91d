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
        for (prefix, kind) in Self.prefixes where tuid.hasPrefix(prefix) {
            // `TSPD0x`: one more character, a digit.
            if prefix.count == 5 {
                let next = tuid.utf8.dropFirst(5).first
                guard let next, next >= 0x30, next <= 0x39 else { continue }
            }
            self = kind
            return
        }
        self = .unknown
    }
}
