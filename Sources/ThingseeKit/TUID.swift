/// Thing unique identifiers: a 6-character model code followed by an 11-character serial.
public enum TUID {
    /// Whether `text` has the shape of a TUID: 17 upper-case ASCII letters and digits (`TSPD04ESY93100802`).
    public static func isWellFormed(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            guard (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39) else { return false }
            count += 1
            if count > 17 { return false }
        }
        return count == 17
    }

    /// The model code: the first six characters (`TSPD04`).
    public static func model(of tuid: String) -> String { String(tuid.prefix(6)) }
}
