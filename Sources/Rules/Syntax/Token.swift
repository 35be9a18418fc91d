/// A lexical token of the rules language (also used for fixture files).
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// Identifiers, keywords, TUIDs, group ids, and words that start with a digit (`1x`, `2nd-floor`).
        case word(String)
        case number(Double)
        /// `INT UNIT {INT UNIT}` in seconds; nil when the seconds do not fit in 64 bits.
        case duration(Int64?)
        case string(String)
        case colon, comma, leftParen, rightParen, equals, at
        case less, lessEqual, greater, greaterEqual, equalEqual, notEqual
        case plus, minus, star, slash
        /// `->` or `→`.
        case arrow
        case end
    }

    var kind: Kind
    /// The source text of the token, as written (cut to 60 characters for very long tokens).
    var text: String
    var line: Int
    var column: Int

    var word: String? {
        if case .word(let w) = kind { return w }
        return nil
    }

    func isWord(_ w: String) -> Bool { word == w }

    /// How the token reads in a message: `` `text` `` or "end of file".
    var quoted: String {
        if case .end = kind { return "end of file" }
        return "`\(text)`"
    }
}
