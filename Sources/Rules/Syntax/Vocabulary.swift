/// The fixed words of the rules language: statuses, command ids and their parameters, known fields.
public enum Vocabulary {
    /// Installation statuses accepted by `move to` and `status is`.
    public static let statuses = ["new", "installed", "uninstalled", "quarantine", "retired"]

    /// Configuration command ids and the parameter names each takes, in documentation order.
    public static let commandParameters: [Int: [String]] = [
        1500: ["measurementInterval", "reportInterval"],
        1501: ["nodeRole", "autoRole", "lowLatency"],
        12200: ["accelerometerMode", "weatherMode", "hallMode", "leakageMode"],
        13200: ["threshold", "enableLed", "mode", "passiveReportInterval"],
    ]

    public static let commandIds = [1500, 1501, 12200, 13200]

    /// Message properties of the documented catalogue.
    public static let messageFields = [
        "batl", "chrg", "temp", "humd", "airp", "lght", "hall", "hallCount", "moveCount", "in", "out",
        "totalIn", "totalOut", "state", "dist", "carbonDioxide", "tvoc",
    ]

    /// Fields computed by the engine rather than read from one message property.
    public static let derivedFields = ["battery", "status", "group", "firmware", "silence"]

    public static var knownFields: [String] { derivedFields + messageFields }

    /// The closest candidate to `word` when it is a likely misspelling, nil otherwise.
    ///
    /// Short words get no distance allowance (only a case difference), so `in` does not suggest `on`.
    static func nearMiss(_ word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        let allowed = word.count < 4 ? 0 : (word.count < 7 ? 1 : 2)
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            let distance = candidate.lowercased() == lower ? 0 : editDistance(lower, candidate.lowercased())
            if distance <= allowed, best == nil || distance < best!.1 {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    /// The closest candidate within a generous distance, for values that must be one of a closed set.
    static func suggestion(_ word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        let allowed = max(1, min(3, word.count / 2))
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lower, candidate.lowercased())
            if distance <= allowed, best == nil || distance < best!.1 {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    /// Levenshtein distance with adjacent transpositions counted as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previous2[j - 2] + 1)
                }
            }
            previous2 = previous
            previous = current
        }
        return previous[b.count]
    }
}
