import ThingseeKit

/// The fixed words of the rules language: statuses, command ids and their parameters, known fields.
public enum Vocabulary {
    /// Installation statuses accepted by `move to` and `status is`.
    public static let statuses = InstallationStatus.names

    /// Configuration command ids and the parameter names each takes, in documentation order.
    public static let commandParameters: [Int: [String]] = CommandCatalogue.parameters.mapValues { $0.map(\.name) }

    public static let commandIds = CommandCatalogue.ids

    /// Message properties of the documented catalogue.
    public static let messageFields = [
        "batl", "chrg", "temp", "humd", "airp", "lght", "hall", "hallCount", "moveCount", "in", "out",
        "totalIn", "totalOut", "state", "dist", "carbonDioxide", "tvoc", "mode",
    ]

    /// Fields computed by the engine rather than read from one message property.
    public static let derivedFields = [
        "battery", "status", "group", "firmware", "silence", "model", "kind", "hour", "weekday",
    ]

    public static var knownFields: [String] { derivedFields + messageFields }

    /// Derived fields whose values are text.
    static let textFields: Set<String> = ["status", "group", "firmware", "model", "kind"]

    /// The alert types the platform documents.
    public static let alertTypes = ["gateway connection lost"]

    /// Weekday names in ISO order (Monday is 0).
    static let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    public static let kinds = DeviceKind.allCases.map(\.rawValue)

    /// Names people write for a catalogue field, and the field they mean.
    static let aliases: [String: String] = [
        "temperature": "temp", "humidity": "humd", "pressure": "airp", "light": "lght", "co2": "carbonDioxide",
        "CO2": "carbonDioxide", "battery_level": "battery", "batteryLevel": "battery", "distance": "dist",
        "voc": "tvoc", "occupancy": "state", "version": "firmware", "installation_status": "status",
    ]

    /// The closest candidate to `word` when it is a likely misspelling, nil otherwise.
    ///
    /// Short words get no distance allowance (only a case difference), so `in` does not suggest `on`.
    static func nearMiss(_ word: String, in candidates: [String]) -> String? {
        let allowed = word.count < 4 ? 0 : (word.count < 7 ? 1 : 2)
        return EditDistance.closest(to: word, in: candidates, allowed: allowed)
    }

    /// The closest candidate within a generous distance, for values that must be one of a closed set.
    static func suggestion(_ word: String, in candidates: [String]) -> String? {
        EditDistance.closest(to: word, in: candidates, allowed: max(1, min(3, word.count / 2)))
    }

    /// The field a misspelt or foreign field name most likely means.
    static func fieldSuggestion(_ word: String, known: [String]) -> String? {
        if let alias = aliases[word] ?? aliases[word.lowercased()] { return alias }
        return suggestion(word, in: known)
    }

    static func editDistance(_ a: String, _ b: String) -> Int { EditDistance.between(a, b) }
}
