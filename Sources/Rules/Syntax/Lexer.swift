/// Splits a source into tokens. Newlines are white space; `#` starts a comment to the end of the line.
///
/// Problems (unterminated strings, stray characters) become diagnostics; lexing always continues.
struct Lexer {
    private let chars: [Character]
    private let file: String
    private var index = 0
    private var line: Int
    private var column = 1
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, text: String, firstLine: Int = 1) {
        self.file = file
        self.chars = Array(text)
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

    private func peek(_ offset: Int = 0) -> Character? {
        index + offset < chars.count ? chars[index + offset] : nil
    }

    private mutating func advance() {
        if chars[index] == "\n" || chars[index] == "\r\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        index += 1
    }

    private static func isWordStart(_ c: Character) -> Bool { c.isLetter || c == "_" }
    private static func isWordPart(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "-" }
    private static func isDigit(_ c: Character) -> Bool { c.isASCII && c.isNumber }

    mutating func next() -> Token {
        while let c = peek() {
            if c.isWhitespace {
                advance()
            } else if c == "#" {
                while let d = peek(), !d.isNewline { advance() }
            } else {
                break
            }
        }
        let startLine = line
        let startColumn = column
        let start = index
        func make(_ kind: Token.Kind) -> Token {
            Token(kind: kind, text: String(chars[start..<index]), line: startLine, column: startColumn)
        }
        guard let c = peek() else { return make(.end) }

        if c == "\"" {
            advance()
            var value = ""
            while true {
                guard let d = peek(), !d.isNewline else {
                    diagnostics.append(
                        Diagnostic(
                            .error, at: SourceLocation(file: file, line: startLine, column: startColumn),
                            "unterminated string", hint: "close the string with `\"` on the same line"))
                    return make(.string(value))
                }
                advance()
                if d == "\"" { break }
                if d == "\\", let e = peek(), !e.isNewline {
                    advance()
                    switch e {
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    default: value.append(e)
                    }
                } else {
                    value.append(d)
                }
            }
            return make(.string(value))
        }

        if Lexer.isDigit(c) || (c == "-" && peek(1).map(Lexer.isDigit) == true) {
            advance()
            while let d = peek(), Lexer.isDigit(d) { advance() }
            var isInteger = true
            if peek() == ".", let d = peek(1), Lexer.isDigit(d) {
                isInteger = false
                advance()
                while let d = peek(), Lexer.isDigit(d) { advance() }
            }
            if let d = peek(), Lexer.isWordPart(d) || d == "." {
                let digitsEnd = index
                if isInteger, let unit = peek(), "smhd".contains(unit), peek(1).map({ !Lexer.isWordPart($0) }) ?? true,
                    chars[start] != "-"
                {
                    advance()
                    let multiplier: Int64 = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 86400
                    if let n = Int64(String(chars[start..<digitsEnd])) {
                        let (seconds, overflow) = n.multipliedReportingOverflow(by: multiplier)
                        if !overflow { return make(.duration(seconds)) }
                    }
                    return make(.word(String(chars[start..<index])))
                }
                while let d = peek(), Lexer.isWordPart(d) || d == ".", !(d == "-" && peek(1) == ">") { advance() }
                return make(.word(String(chars[start..<index])))
            }
            let text = String(chars[start..<index])
            return make(.number(Double(text) ?? 0))
        }

        if Lexer.isWordStart(c) {
            advance()
            while let d = peek(), Lexer.isWordPart(d), !(d == "-" && peek(1) == ">") { advance() }
            return make(.word(String(chars[start..<index])))
        }

        advance()
        switch c {
        case ":": return make(.colon)
        case ",": return make(.comma)
        case "(": return make(.leftParen)
        case ")": return make(.rightParen)
        case "@": return make(.at)
        case "→": return make(.arrow)
        case "=":
            if peek() == "=" {
                advance()
                return make(.equalEqual)
            }
            return make(.equals)
        case "<":
            if peek() == "=" {
                advance()
                return make(.lessEqual)
            }
            return make(.less)
        case ">":
            if peek() == "=" {
                advance()
                return make(.greaterEqual)
            }
            return make(.greater)
        case "!" where peek() == "=":
            advance()
            return make(.notEqual)
        case "-" where peek() == ">":
            advance()
            return make(.arrow)
        default:
            diagnostics.append(
                Diagnostic(
                    .error, at: SourceLocation(file: file, line: startLine, column: startColumn),
                    "unexpected character `\(c)`"))
            return next()
        }
    }
}
