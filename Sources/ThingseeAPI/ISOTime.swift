import Foundation

/// Time parsing and formatting that needs no shared formatter objects (so it is safe to call from any task).
public enum ISOTime {
    /// Parses `2019-12-03T07:22:19`, with optional fractional seconds and an optional zone (`Z`, `+02:00`).
    /// A time without a zone is UTC, as the API's alert periods are.
    public static func parse(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func num(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= b.count else { return nil }
            var v = 0
            for i in start..<(start + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 10, let year = num(0, 4), b[4] == 45, let month = num(5, 2), b[7] == 45,
            let day = num(8, 2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour = 0, minute = 0, second = 0
        var i = 10
        if b.count > 10 {
            guard b[10] == 84 || b[10] == 116 || b[10] == 32, let h = num(11, 2), b.count > 13, b[13] == 58,
                let m = num(14, 2)
            else { return nil }
            hour = h
            minute = m
            i = 16
            if b.count > 16, b[16] == 58 {
                guard let s = num(17, 2) else { return nil }
                second = s
                i = 19
            }
            if i < b.count, b[i] == 46 {  // fractional seconds: ignored
                i += 1
                while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            }
        }
        var offset = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {
                i += 1
            } else if b[i] == 43 || b[i] == 45 {
                let sign = b[i] == 43 ? 1 : -1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0
                if i + 3 < b.count {
                    let j = b[i + 3] == 58 ? i + 4 : i + 3
                    guard let m = num(j, 2) else { return nil }
                    om = m
                    i = j + 2
                } else {
                    i += 3
                }
                offset = sign * (oh * 3600 + om * 60)
            }
            guard i == b.count else { return nil }
        }
        guard hour < 24, minute < 60, second < 61 else { return nil }
        return daysFromCivil(year, month, day) * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
    }

    /// `2019-12-03T07:22:19Z`.
    public static func format(_ unix: Int64) -> String {
        let days = unix >= 0 ? unix / 86400 : (unix - 86399) / 86400
        let secs = Int(unix - days * 86400)
        let (y, m, d) = civilFromDays(days)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, secs / 3600, secs / 60 % 60, secs % 60)
    }

    /// `2019-12-03T07:22:19`, the API's own zone-less UTC form.
    public static func formatWithoutZone(_ unix: Int64) -> String {
        String(format(unix).dropLast())
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Parses an HTTP `Date` header (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]),
            let month = months.firstIndex(of: String(parts[2])), let year = Int(parts[3])
        else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        return daysFromCivil(year, month + 1, day) * 86400 + Int64(hms[0] * 3600 + hms[1] * 60 + hms[2])
    }

    /// Formats Unix seconds as an HTTP `Date` header value.
    public static func formatHTTPDate(_ unix: Int64) -> String {
        let days = unix >= 0 ? unix / 86400 : (unix - 86399) / 86400
        let secs = Int(unix - days * 86400)
        let (y, m, d) = civilFromDays(days)
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        return String(
            format: "%@, %02d %@ %04d %02d:%02d:%02d GMT", weekday, d, months[m - 1], y, secs / 3600, secs / 60 % 60,
            secs % 60)
    }

    // Howard Hinnant's days-from-civil algorithms.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }
}
