import ThingseeKit

/// Splits a source into tokens on demand. Newlines are white space; `#` starts a comment to the end of the line.
///
/// Works on UTF-8 bytes and hands out one token at a time, so a 50 MB file costs its bytes and a few tokens
/// of memory. Problems (unterminated strings, stray characters) become diagnostics; lexing always continues.
struct Lexer {
    private let bytes: [UInt8]
    private let file: String
    private var index = 0
    private var line: Int
    private var column = 1
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, text: String, firstLine: Int = 1) {
        self.file = file
        self.bytes = Array(text.utf8)
        self.line = firstLine
    }

    static func tokens(file: String, text: String, firstLine: Int = 1) -> ([Token], [Diagnostic]) {
        var lexer = Lexer(file: file, text: text, firstLine: firstLine)
        var tokens: [Token] = []
        while true {
            let token = lexer.next()
            tokens.append(token)
            if token.kind == .end { break }
        }
        return (tokens, lexer.diagnostics)
    }

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private mutating func advance() {
        let byte = bytes[index]
        if byte == 0x0A {
            line += 1
            column = 1
        } else if byte & 0xC0 != 0x80 {
            // Columns count characters: continuation bytes of a UTF-8 sequence do not move the column.
            column += 1
        }
        index += 1
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    private static func isWordStart(_ b: UInt8) -> Bool { isLetter(b) || b == 0x5F || b >= 0x80 }
    private static func isWordPart(_ b: UInt8) -> Bool { isWordStart(b) || isDigit(b) || b == 0x2D }

    /// Whether `→` (E2 86 92) starts at `index + offset`.
    private func isArrow(at offset: Int = 0) -> Bool {
        peek(offset) == 0xE2 && peek(offset + 1) == 0x86 && peek(offset + 2) == 0x92
    }

    /// A word continues unless the next bytes are `->` or `→`.
    private func wordContinues() -> Bool {
        guard let d = peek(), Lexer.isWordPart(d) else { return false }
        if d == 0x2D && peek(1) == 0x3E { return false }
        if isArrow() { return false }
        return true
    }

    private func text(from start: Int) -> String {
        let end = min(index, start + 240)
        var text = String(decoding: bytes[start..<end], as: UTF8.self)
        if text.count > 60 { text = String(text.prefix(57)) + "…" }
        return text
    }

    private mutating func report(_ message: String, line: Int, column: Int, hint: String? = nil) {
        diagnostics.append(
            Diagnostic(.error, at: SourceLocation(file: file, line: line, column: column), message, hint: hint))
    }

    mutating func next() -> Token {
        while true {
            while let c = peek() {
                if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C {
                    advance()
                } else if c == 0x23 {
                    while let d = peek(), d != 0x0A { advance() }
                } else {
                    break
                }
            }
            if let token = lexOne() { return token }
        }
    }

    /// One token, or nil after a stray character (reported; the caller lexes on).
    private mutating func lexOne() -> Token? {
        let startLine = line
        let startColumn = column
        let start = index
        func make(_ kind: Token.Kind) -> Token {
            Token(kind: kind, text: text(from: start), line: startLine, column: startColumn)
        }
        guard let c = peek() else { return make(.end) }

        if c == 0x22 {
            advance()
            var value: [UInt8] = []
            while true {
                guard let d = peek(), d != 0x0A else {
                    report(
                        "unterminated string", line: startLine, column: startColumn,
                        hint: "close the string with `\"` on the same line")
                    return make(.string(String(decoding: value, as: UTF8.self)))
                }
                advance()
                if d == 0x22 { break }
                if d == 0x5C, let e = peek(), e != 0x0A {
                    advance()
                    switch e {
                    case UInt8(ascii: "n"): value.append(0x0A)
                    case UInt8(ascii: "t"): value.append(0x09)
                    default: value.append(e)
                    }
                } else {
                    value.append(d)
                }
            }
            return make(.string(String(decoding: value, as: UTF8.self)))
        }

        if Lexer.isDigit(c) {
            advance()
            while let d = peek(), Lexer.isDigit(d) { advance() }
            var isInteger = true
            if peek() == 0x2E, let d = peek(1), Lexer.isDigit(d) {
                isInteger = false
                advance()
                while let d = peek(), Lexer.isDigit(d) { advance() }
            }
            if wordContinues() || (peek() == 0x2E && peek(1).map(Lexer.isWordPart) == true) {
                // `30m`, `1h30m`: a duration when every part is INT UNIT; otherwise a word (`2nd-floor`).
                while wordContinues() || (peek() == 0x2E && peek(1).map(Lexer.isWordPart) == true) { advance() }
                let spelled = String(decoding: bytes[start..<index], as: UTF8.self)
                if isInteger {
                    switch DurationText.parse(spelled) {
                    case .success(let seconds): return make(.duration(seconds))
                    case .failure(.overflow): return make(.duration(nil))
                    case .failure(.malformed): break
                    }
                }
                return make(.word(spelled))
            }
            let spelled = String(decoding: bytes[start..<index], as: UTF8.self)
            return make(.number(Double(spelled) ?? .infinity))
        }

        if Lexer.isWordStart(c) && !isArrow() {
            advance()
            while wordContinues() { advance() }
            return make(.word(String(decoding: bytes[start..<index], as: UTF8.self)))
        }

        if isArrow() {
            advance()
            advance()
            advance()
            return make(.arrow)
        }
        advance()
        switch c {
        case UInt8(ascii: ":"): return make(.colon)
        case UInt8(ascii: ","): return make(.comma)
        case UInt8(ascii: "("): return make(.leftParen)
        case UInt8(ascii: ")"): return make(.rightParen)
        case UInt8(ascii: "@"): return make(.at)
        case UInt8(ascii: "+"): return make(.plus)
        case UInt8(ascii: "*"): return make(.star)
        case UInt8(ascii: "/"): return make(.slash)
        case UInt8(ascii: "="):
            if peek() == 0x3D {
                advance()
                return make(.equalEqual)
            }
            return make(.equals)
        case UInt8(ascii: "<"):
            if peek() == 0x3D {
                advance()
                return make(.lessEqual)
            }
            return make(.less)
        case UInt8(ascii: ">"):
            if peek() == 0x3D {
                advance()
                return make(.greaterEqual)
            }
            return make(.greater)
        case UInt8(ascii: "!") where peek() == 0x3D:
            advance()
            return make(.notEqual)
        case UInt8(ascii: "-"):
            if peek() == 0x3E {
                advance()
                return make(.arrow)
            }
            return make(.minus)
        default:
            // Skip the rest of a multi-byte character so the message shows it whole.
            while let d = peek(), d & 0xC0 == 0x80 { advance() }
            report("unexpected character `\(text(from: start))`", line: startLine, column: startColumn)
            return nil
        }
    }
}
