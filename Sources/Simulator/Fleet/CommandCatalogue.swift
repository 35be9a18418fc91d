/// The configuration commands a device accepts: their parameters, ranges and defaults.
enum CommandCatalogue {
    struct Parameter: Sendable {
        let name: String
        let range: ClosedRange<Int>
        let defaultValue: Int
    }

    static let allowedIDs: Set<Int> = [1500, 1501, 12200, 13200]
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
        default:
            return []
        }
    }

    static func defaults(for tsmID: Int, reportInterval: Int) -> [(String, Int)] {
        parameters(for: tsmID, reportInterval: reportInterval).map { ($0.name, $0.defaultValue) }
    }
}
