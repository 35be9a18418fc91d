import Foundation

/// Shell-like splitting of command lines: quotes, backslash escapes, `#` comments, `;` separators and
/// `$NAME` / `${NAME}` variables.
///
/// Lines are first split into commands (`split`), and each command is turned into words only when it runs
/// (`words`), so that `set X 1; thing $X` sees the variable set by the command before it.
public enum LineTokenizer {
    /// Splits a line at `;` outside quotes and drops a `#` comment; empty commands are left out.
    public static func split(_ line: String) throws(CommandError) -> [String] {
        var segments: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        var atWordStart = true
        for c in line {
            if escaped {
                current.append(c)
                escaped = false
                atWordStart = false
                continue
            }
            if let q = quote {
                current.append(c)
                if c == "\\" && q == "\"" {
                    escaped = true
                } else if c == q {
                    quote = nil
                }
                continue
            }
            switch c {
            case "\\":
                current.append(c)
                escaped = true
            case "\"", "'":
                current.append(c)
                quote = c
                atWordStart = false
            case "#" where atWordStart:
                return finish(segments, current)
            case ";":
                segments.append(current)
                current = ""
                atWordStart = true
                continue
            default:
                current.append(c)
            }
            atWordStart = c == " " || c == "\t"
        }
        if quote != nil { throw .usage("unterminated \(quote!) quote") }
        return finish(segments, current)
    }

    private static func finish(_ segments: [String], _ last: String) -> [String] {
        (segments + [last]).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Splits one command into words: removes quotes and escapes and expands variables outside single quotes.
    /// - Parameter variable: the value of a variable, or `nil` when it is not set (an error).
    public static func words(
        _ command: String, variable: (String) -> String? = { _ in nil }
    ) throws(CommandError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var chars = Array(command)
        chars.append(" ")
        var i = 0
        func expand(at index: inout Int) throws(CommandError) -> String? {
            // chars[index] == "$"
            var j = index + 1
            var name = ""
            if j < chars.count, chars[j] == "{" {
                j += 1
                while j < chars.count, chars[j] != "}" {
                    name.append(chars[j])
                    j += 1
                }
                guard j < chars.count, isIdentifier(name) else { throw .usage("malformed variable reference ${\(name)") }
                j += 1
            } else {
                while j < chars.count, chars[j] == "_" || chars[j].isASCII && (chars[j].isLetter || chars[j].isNumber) {
                    if name.isEmpty && chars[j].isNumber { break }
                    name.append(chars[j])
                    j += 1
                }
                if name.isEmpty { return nil }
            }
            guard let value = variable(name) else {
                throw .usage("undefined variable $\(name) (set it first with `set \(name) VALUE`)")
            }
            index = j - 1
            return value
        }
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q {
                    quote = nil
                } else if q == "\"" && c == "\\" && i + 1 < chars.count && "\"\\$".contains(chars[i + 1]) {
                    i += 1
                    current.append(chars[i])
                } else if q == "\"" && c == "$", let value = try expand(at: &i) {
                    current += value
                } else {
                    current.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case " ", "\t":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "\"", "'":
                quote = c
                inWord = true
            case "\\":
                if i + 1 < chars.count - 1 {
                    i += 1
                    current.append(chars[i])
                }
                inWord = true
            case "$":
                if let value = try expand(at: &i) {
                    current += value
                } else {
                    current.append(c)
                }
                inWord = true
            default:
                current.append(c)
                inWord = true
            }
            i += 1
        }
        if let quote { throw .usage("unterminated \(quote) quote") }
        return words
    }

    /// Whether `name` can be a variable name: a letter or `_`, then letters, digits or `_`.
    public static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return name.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    /// Quotes a word so that `words` gives it back unchanged.
    public static func quote(_ word: String) -> String {
        let plain = !word.isEmpty && word.allSatisfy { !" \t\"'\\$#;".contains($0) }
        if plain { return word }
        return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
