import Foundation
import ThingseeAPI

/// The time syntax of command arguments: Unix seconds, ISO-8601, relative (`-30m`, `-1h`, `-7d`) or `now`;
/// and durations (`90`, `30s`, `5m`, `2h`, `1d`).
public enum TimeExpression {
    /// Unix seconds for `text`, with relative times counted back from `now`.
    public static func parse(_ text: String, now: Int64) -> Int64? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.lowercased() == "now" { return now }
        if let first = t.first, first == "-" || first == "+" {
            guard let d = duration(String(t.dropFirst())), t.count > 1, t.last!.isLetter else { return nil }
            // Checked: `+9223372036854775807s` is refused as out of range, not a crash.
            let (value, overflow) = first == "-" ? now.subtractingReportingOverflow(d) : now.addingReportingOverflow(d)
            return overflow || !range.contains(value) ? nil : value
        }
        if !t.isEmpty, t.allSatisfy(\.isASCIIDigit), let n = Int64(t) { return range.contains(n) ? n : nil }
        return ISOTime.parse(t).flatMap { range.contains($0) ? $0 : nil }
    }

    /// The times a command accepts: 1970 to the end of 9999, so that every later date computation stays in range.
    public static let range: ClosedRange<Int64> = 0...253_402_300_799

    /// Seconds for a duration: a plain number of seconds, or a number with `s`, `m`, `h`, `d` or `w`.
    public static func duration(_ text: String) -> Int64? {
        guard let last = text.last else { return nil }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800]
        let (digits, unit) = last.isASCIIDigit ? (Substring(text), Int64(1)) : (text.dropLast(), units[last] ?? 0)
        guard unit > 0, !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit), let n = Int64(digits),
            n <= Int64.max / unit
        else { return nil }
        return n * unit
    }

    /// Whether a word reads as a relative time or a negative number, so that it is a value and not a flag.
    public static func looksLikeValue(_ word: String) -> Bool {
        guard word.hasPrefix("-"), word.count > 1 else { return false }
        let rest = word.dropFirst()
        return rest.first!.isASCIIDigit && (duration(String(rest)) != nil || Double(rest) != nil)
    }

    /// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d`.
    public static func describe(seconds: Int64) -> String {
        let s = abs(seconds)
        switch s {
        case ..<60: return "\(s) s"
        case ..<3600: return "\(s / 60) min"
        case ..<86400: return s % 3600 / 60 == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(s % 3600 / 60) min"
        default: return "\(s / 86400) d"
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
