import Synchronization

/// Formats Unix seconds as an RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
enum HTTPDate {
    /// The `Date` header of every response: formatted once per (simulated) second, as HTTP servers do.
    final class Cache: Sendable {
        private let last = Mutex<(second: Double, text: String)>((.nan, ""))

        func format(_ unixSeconds: Double) -> String {
            let second = unixSeconds.rounded(.down)
            return last.withLock { last in
                if last.second != second { last = (second, HTTPDate.format(second)) }
                return last.text
            }
        }
    }

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ unixSeconds: Double) -> String {
        let c = CivilTime(unixSeconds)
        let weekday = weekdays[((c.days % 7) + 7) % 7]
        return
            "\(weekday), \(pad(c.day)) \(months[c.month - 1]) \(c.year) \(pad(c.hour)):\(pad(c.minute)):\(pad(c.second)) GMT"
    }

    /// ISO-8601 without a zone, as the alerts endpoint writes its periods (UTC).
    static func isoWithoutZone(_ unixSeconds: Double) -> String {
        let c = CivilTime(unixSeconds)
        return "\(c.year)-\(pad(c.month))-\(pad(c.day))T\(pad(c.hour)):\(pad(c.minute)):\(pad(c.second))"
    }

    private static func pad(_ value: Int) -> String {
        value < 10 ? "0\(value)" : String(value)
    }
}

/// UTC calendar fields of a Unix time (Howard Hinnant's days-to-civil algorithm).
struct CivilTime {
    let days: Int
    let year: Int
    let month: Int
    let day: Int
    let hour: Int
    let minute: Int
    let second: Int

    init(_ unixSeconds: Double) {
        let total = Int(unixSeconds.rounded(.down))
        let days = Int((Double(total) / 86_400).rounded(.down))
        let secondOfDay = total - days * 86_400
        self.days = days
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }
}
