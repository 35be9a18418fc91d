/// What kind of device a TUID names, read off its 6-character model prefix.
public enum DeviceKind: String, Sendable, CaseIterable {
    case environment, presence, gateway
    case airQuality = "air-quality"
    case distance, angle, leakage
    case peopleCounter = "people-counter"
    case unknown

    /// The kind of the device `tuid` (`TSPD04…` environment, `TSGW01…` gateway, …).
    public init(tuid: String) {
        let model = String(tuid.prefix(6))
        let family = String(model.prefix(4))
        switch family {
        case "TSPD": self = .environment
        case "TSEN": self = model == "TSEN01" ? .environment : .unknown
        case "TSPR": self = .presence
        case "TSGW": self = .gateway
        case "TSAR": self = .airQuality
        case "TSTF": self = .distance
        case "TSAN": self = model == "TSAN01" ? .angle : .unknown
        case "TSLK": self = .leakage
        case "TSAP": self = model == "TSAP01" ? .peopleCounter : .unknown
        default: self = .unknown
        }
    }
}
