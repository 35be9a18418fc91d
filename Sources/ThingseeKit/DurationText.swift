/// Durations written as `90s`, `30m`, `1h30m`, `400d`: whole numbers of s, m, h and d, in any order.
public enum DurationText {
    /// Seconds in 100 years of 365.25 days: the longest duration a rule may write.
    public static let maxSeconds: Int64 = 3_155_760_000

    public enum Problem: Error, Sendable, Hashable {
        /// Not of the form `INT UNIT {INT UNIT}`.
        case malformed
        /// Well formed, but the seconds do not fit in 64 bits.
        case overflow
    }

    /// Seconds of a duration, with checked arithmetic: never traps, whatever the digits.
    public static func parse(_ text: Substring) -> Result<Int64, Problem> {
        var total: Int64 = 0
        var number: Int64 = 0
        var digits = 0
        var overflow = false
        for byte in text.utf8 {
            if byte >= 0x30 && byte <= 0x39 {
                let (times10, o1) = number.multipliedReportingOverflow(by: 10)
                let (plus, o2) = times10.addingReportingOverflow(Int64(byte - 0x30))
                if o1 || o2 { overflow = true }
                number = plus
                digits += 1
                continue
            }
            let unit: Int64
            switch byte {
            case UInt8(ascii: "s"): unit = 1
            case UInt8(ascii: "m"): unit = 60
            case UInt8(ascii: "h"): unit = 3600
            case UInt8(ascii: "d"): unit = 86400
            default: return .failure(.malformed)
            }
            guard digits > 0 else { return .failure(.malformed) }
            let (seconds, o1) = number.multipliedReportingOverflow(by: unit)
            let (sum, o2) = total.addingReportingOverflow(seconds)
            if o1 || o2 { overflow = true }
            total = sum
            number = 0
            digits = 0
        }
        guard digits == 0, !text.isEmpty else { return .failure(.malformed) }
        return overflow ? .failure(.overflow) : .success(total)
    }

    public static func parse(_ text: String) -> Result<Int64, Problem> { parse(Substring(text)) }

    /// The shortest exact spelling: `1h30m`, `45s`, `2d`, `-30s`, `0s`.
    public static func format(_ seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        if seconds < 0 {
            // -Int64.min does not exist: spell the magnitude from its unsigned form.
            return "-" + format(magnitude: seconds.magnitude)
        }
        return format(magnitude: seconds.magnitude)
    }

    private static func format(magnitude: UInt64) -> String {
        var rest = magnitude
        var text = ""
        for (unit, size) in [("d", UInt64(86400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }
}
