/// The configuration commands a device accepts: their parameters, ranges and defaults.
enum CommandCatalogue {
    struct Parameter: Sendable {
        let name: String
        let range: ClosedRange<Int>
        let defaultValue: Int
    }

    /// The seed document's four ids, and the three Haltian's field app also sends (12211 hall mode, 16200
    /// accelerometer on pod4 firmware, 17220 people-counter orientation).
    static let allowedIDs: Set<Int> = [1500, 1501, 12200, 13200, 12211, 16200, 17220]
    /// Ids whose parameters no document lists in full: numeric parameters outside the catalogue are kept.
    static let keepsUnknownParameters: Set<Int> = [12211, 16200, 17220]
    static let maxTransactionID = 2_147_483_647

    /// Parameters per command id, in the order a device echoes them.
    static func parameters(for tsmID: Int, reportInterval: Int) -> [Parameter] {
        switch tsmID {
        case 1500:
            return [
                Parameter(name: "measurementInterval", range: 1...86_400, defaultValue: 60),
                Parameter(name: "reportInterval", range: 10...86_400, defaultValue: reportInterval),
            ]
        case 1501:
            return [
                Parameter(name: "nodeRole", range: 0...1, defaultValue: 1),
                Parameter(name: "autoRole", range: 0...1, defaultValue: 1),
                Parameter(name: "lowLatency", range: 0...1, defaultValue: 0),
            ]
        case 12200:
            return [
                Parameter(name: "accelerometerMode", range: 0...3, defaultValue: 0),
                Parameter(name: "weatherMode", range: 0...2, defaultValue: 1),
                Parameter(name: "hallMode", range: 0...2, defaultValue: 0),
                Parameter(name: "leakageMode", range: 0...1, defaultValue: 0),
            ]
        case 13200:
            return [
                Parameter(name: "threshold", range: 60...1100, defaultValue: 150),
                Parameter(name: "enableLed", range: 0...1, defaultValue: 0),
                Parameter(name: "mode", range: 0...2, defaultValue: 0),
                Parameter(name: "passiveReportInterval", range: 60...86_400, defaultValue: 3600),
            ]
        case 12211:
            return [Parameter(name: "hallMode", range: 0...2, defaultValue: 0)]
        case 16200:
            return [Parameter(name: "accelerometerMode", range: 0...3, defaultValue: 0)]
        case 17220:
            return [Parameter(name: "orientation", range: 0...1, defaultValue: 0)]
        default:
            return []
        }
    }

    static func defaults(for tsmID: Int, reportInterval: Int) -> [(String, Int)] {
        parameters(for: tsmID, reportInterval: reportInterval).map { ($0.name, $0.defaultValue) }
    }
}
