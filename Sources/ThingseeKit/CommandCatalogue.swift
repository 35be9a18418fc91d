/// The configuration commands the API accepts (`tsmEv` 30), with their parameters.
public enum CommandCatalogue {
    /// One parameter of a configuration command; `range` when the API documents one.
    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var range: ClosedRange<Double>?

        public init(_ name: String, range: ClosedRange<Double>? = nil) {
            self.name = name
            self.range = range
        }
    }

    /// Command ids in documentation order.
    public static let ids = [1500, 1501, 12200, 13200]

    /// Each command's parameters, in documentation order.
    public static let parameters: [Int: [Parameter]] = [
        1500: [Parameter("measurementInterval"), Parameter("reportInterval")],
        1501: [Parameter("nodeRole", range: 0...1), Parameter("autoRole"), Parameter("lowLatency")],
        12200: [
            Parameter("accelerometerMode"), Parameter("weatherMode"), Parameter("hallMode"), Parameter("leakageMode"),
        ],
        13200: [
            Parameter("threshold", range: 60...1100), Parameter("enableLed"), Parameter("mode", range: 0...2),
            Parameter("passiveReportInterval"),
        ],
    ]

    /// The parameter names of a command, or nil for an id outside the catalogue.
    public static func parameterNames(of id: Int) -> [String]? { parameters[id]?.map(\.name) }

    /// The largest `transactionId` a client may choose.
    public static let maxTransactionID = 2_147_483_647
}
