/// Parses one rule source into rules, collecting every problem as a diagnostic.
///
/// After an error the parser resumes at the next clause keyword or the next `rule`.
struct Parser {
    struct Failure: Error {}

    private var tokens: [Token]
    private var position = 0
    private let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String, tokens: [Token]) {
        self.file = file
        self.tokens = tokens
    }

    static func parse(file: String, text: String) -> (rules: [RuleSyntax], diagnostics: [Diagnostic]) {
        let (tokens, lexDiagnostics) = Lexer.tokens(file: file, text: text)
        var parser = Parser(file: file, tokens: tokens)
        let rules = parser.parseFile()
        let all = (lexDiagnostics + parser.diagnostics).sorted {
            ($0.line, $0.column) < ($1.line, $1.column)
        }
        return (rules, all)
    }

    // MARK: Token access

    var current: Token { tokens[position] }
    func tokensBack(_ n: Int) -> Token { tokens[max(0, position - n)] }
    private func peek(_ offset: Int = 1) -> Token { tokens[min(position + offset, tokens.count - 1)] }
    var atEnd: Bool { current.kind == .end }

    mutating func advance() {
        if position < tokens.count - 1 { position += 1 }
    }

    func location(_ token: Token) -> SourceLocation {
        SourceLocation(file: file, line: token.line, column: token.column)
    }

    mutating func error(_ message: String, at token: Token, hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: location(token), message, hint: hint))
    }

    mutating func warning(_ message: String, at token: Token, hint: String? = nil) {
        diagnostics.append(Diagnostic(.warning, at: location(token), message, hint: hint))
    }

    mutating func fail(_ message: String, at token: Token, hint: String? = nil) -> Failure {
        error(message, at: token, hint: hint)
        return Failure()
    }

    private mutating func expectWord(_ word: String, after previous: String) throws(Failure) {
        guard current.isWord(word) else {
            throw fail("expected `\(word)` after `\(previous)`, found \(current.quoted)", at: current)
        }
        advance()
    }

    /// Whether the current token starts a clause (or a new rule): where recovery resumes.
    private var atClauseStart: Bool {
        switch current.kind {
        case .arrow, .end: return true
        case .word(let w):
            switch w {
            case "rule", "when", "then", "cooldown", "repeat", "mode": return true
            case "clear": return peek().isWord("when")
            case "in": return peek().isWord("group")
            case "on": return peek().word != nil
            default: return false
            }
        default: return false
        }
    }

    private mutating func synchronize() {
        while !atClauseStart { advance() }
    }

    // MARK: Rules

    mutating func parseFile() -> [RuleSyntax] {
        var rules: [RuleSyntax] = []
        while !atEnd {
            if current.isWord("rule") {
                if let rule = parseRule() { rules.append(rule) }
            } else {
                error("expected `rule`, found \(current.quoted)", at: current)
                while !atEnd && !current.isWord("rule") { advance() }
            }
        }
        return rules
    }

    /// Parses one rule; nil when it had errors (they are in `diagnostics`).
    private mutating func parseRule() -> RuleSyntax? {
        let ruleToken = current
        let errorsBefore = diagnostics.filter { $0.severity == .error }.count
        advance()
        let nameToken = current
        guard let name = identifier() else {
            error("expected a rule name after `rule`, found \(current.quoted)", at: current)
            while !atEnd && !current.isWord("rule") { advance() }
            return nil
        }
        var rule = RuleSyntax(name: name, location: location(ruleToken), nameLocation: location(nameToken))
        if current.kind == .colon { advance() }
        var seen: Set<String> = []
        while !atEnd && !current.isWord("rule") {
            let start = position
            do throws(Failure) {
                try parseClause(into: &rule, seen: &seen)
            } catch {
                synchronize()
            }
            if position == start && !atEnd && !current.isWord("rule") {
                advance()  // never loop on one token
            }
        }
        if rule.condition == nil && !seen.contains("when") {
            error("rule `\(name)` has no `when` clause", at: ruleToken, hint: "add `when CONDITION`")
        }
        if rule.actions.isEmpty && !seen.contains("then") {
            error("rule `\(name)` has no `then` clause", at: ruleToken, hint: "add `then ACTION` (or `-> ACTION`)")
        }
        let errorsAfter = diagnostics.filter { $0.severity == .error }.count
        return errorsAfter == errorsBefore ? rule : nil
    }

    /// A name: a word, or a number written as a name (`in group 42`).
    private mutating func identifier() -> String? {
        switch current.kind {
        case .word(let w):
            advance()
            return w
        case .number, .duration:
            let text = current.text
            advance()
            return text
        default:
            return nil
        }
    }

    private mutating func once(_ clause: String, _ token: Token, _ seen: inout Set<String>, rule: String) {
        if !seen.insert(clause).inserted {
            error("rule `\(rule)` has more than one `\(clause)` clause", at: token)
        }
    }

    private mutating func parseClause(into rule: inout RuleSyntax, seen: inout Set<String>) throws(Failure) {
        let token = current
        if token.kind == .arrow {
            once("then", token, &seen, rule: rule.name)
            advance()
            rule.actions += try parseActions()
            return
        }
        guard let word = token.word else {
            throw fail("unexpected \(token.quoted); expected a clause such as `when` or `then`", at: token)
        }
        switch word {
        case "in":
            advance()
            try expectWord("group", after: "in")
            repeat {
                if current.kind == .comma { advance() }
                guard let group = identifier() else {
                    throw fail("expected a group id, found \(current.quoted)", at: current)
                }
                rule.groups.append(group)
            } while current.kind == .comma
        case "on":
            advance()
            repeat {
                if current.kind == .comma { advance() }
                let tuidToken = current
                guard let tuid = identifier() else {
                    throw fail("expected a TUID after `on`, found \(current.quoted)", at: current)
                }
                if !Parser.looksLikeTUID(tuid) {
                    warning(
                        "`\(tuid)` does not look like a TUID", at: tuidToken,
                        hint: "a TUID is 17 upper-case letters and digits, e.g. `TSPD04ESY93100802`")
                }
                rule.tuids.append(tuid)
            } while current.kind == .comma
        case "when":
            once("when", token, &seen, rule: rule.name)
            advance()
            rule.condition = try parseExpression()
            if current.isWord("for") {
                advance()
                rule.hold = try parseHold()
            }
        case "clear":
            once("clear when", token, &seen, rule: rule.name)
            advance()
            try expectWord("when", after: "clear")
            rule.clear = try parseExpression()
        case "then":
            once("then", token, &seen, rule: rule.name)
            advance()
            rule.actions += try parseActions()
        case "cooldown":
            once("cooldown", token, &seen, rule: rule.name)
            advance()
            rule.cooldown = try parseDuration(after: "cooldown")
        case "repeat":
            once("repeat", token, &seen, rule: rule.name)
            advance()
            try expectWord("every", after: "repeat")
            rule.repeatEvery = try parseDuration(after: "repeat every")
            if current.isWord("max") {
                advance()
                rule.repeatMax = try parseCount(after: "max")
            }
        case "mode":
            once("mode", token, &seen, rule: rule.name)
            advance()
            let modeToken = current
            guard let value = current.word, let mode = RuleMode(rawValue: value) else {
                let hint = current.word.flatMap { Vocabulary.suggestion($0, in: RuleMode.allCases.map(\.rawValue)) }
                throw fail(
                    "unknown mode \(modeToken.quoted)", at: modeToken,
                    hint: hint.map { "did you mean `\($0)`?" } ?? "modes are `live`, `shadow` and `off`")
            }
            advance()
            rule.mode = mode
        default:
            let clauses = ["when", "then", "clear", "cooldown", "repeat", "mode", "in", "on"]
            let hint = Vocabulary.suggestion(word, in: clauses).map { "did you mean `\($0)`?" }
            throw fail(
                "unexpected \(token.quoted); expected a clause such as `when` or `then`", at: token, hint: hint)
        }
    }

    static func looksLikeTUID(_ text: String) -> Bool {
        text.count == 17 && text.allSatisfy { ($0.isUppercase || $0.isNumber) && $0.isASCII }
    }

    private mutating func parseHold() throws(Failure) -> Hold {
        let token = current
        if case .number(let n) = token.kind, n == n.rounded(), n >= 1,
            peek().isWord("reports") || peek().isWord("report")
        {
            advance()
            advance()
            return .reports(Int(n))
        }
        if case .number = token.kind {
            throw fail(
                "expected `reports` or a duration unit after `for \(token.text)`", at: token,
                hint: "write `for \(token.text)m` (a duration) or `for \(token.text) reports`")
        }
        return .duration(try parseDuration(after: "for"))
    }

    private mutating func parseDuration(after previous: String) throws(Failure) -> Int64 {
        let token = current
        switch token.kind {
        case .duration(let seconds):
            advance()
            return seconds
        case .word, .number:
            advance()
            throw fail(
                "malformed duration \(token.quoted)", at: token,
                hint: "a duration is a whole number followed by s, m, h or d, e.g. `30m`")
        default:
            throw fail("expected a duration after `\(previous)`, found \(token.quoted)", at: token)
        }
    }

    private mutating func parseCount(after previous: String) throws(Failure) -> Int {
        let token = current
        guard case .number(let n) = token.kind, n == n.rounded(), n >= 0, n < 1e9 else {
            throw fail("expected a whole number after `\(previous)`, found \(token.quoted)", at: token)
        }
        advance()
        return Int(n)
    }

    // MARK: Actions

    mutating func parseActions() throws(Failure) -> [Action] {
        var actions = [try parseAction()]
        while current.kind == .comma {
            advance()
            actions.append(try parseAction())
        }
        return actions
    }

    mutating func parseAction() throws(Failure) -> Action {
        let token = current
        switch token.word {
        case "move":
            advance()
            try expectWord("to", after: "move")
            let statusToken = current
            guard let status = current.word ?? { if case .string(let s) = current.kind { s } else { nil } }() else {
                throw fail("expected a status after `move to`, found \(current.quoted)", at: current)
            }
            advance()
            try checkStatus(status, at: statusToken)
            return .moveTo(status: status)
        case "send":
            advance()
            try expectWord("command", after: "send")
            let idToken = current
            guard case .number(let n) = idToken.kind, n == n.rounded() else {
                throw fail("expected a command id after `send command`, found \(idToken.quoted)", at: idToken)
            }
            advance()
            let id = Int(n)
            let known = Vocabulary.commandParameters[id]
            if known == nil {
                let hint = Vocabulary.suggestion(String(id), in: Vocabulary.commandIds.map(String.init))
                error(
                    "command id \(id) is not one of 1500, 1501, 12200, 13200", at: idToken,
                    hint: hint.map { "did you mean `\($0)`?" })
            }
            var parameters: [CommandParameter] = []
            while current.word != nil, peek().kind == .equals {
                let nameToken = current
                let name = current.word!
                advance()
                advance()
                guard case .number(let value) = current.kind else {
                    throw fail("expected a number after `\(name)=`, found \(current.quoted)", at: current)
                }
                advance()
                if let known, !known.contains(name) {
                    let hint = Vocabulary.suggestion(name, in: known).map { "did you mean `\($0)`?" }
                    warning(
                        "command \(id) takes no parameter `\(name)`", at: nameToken,
                        hint: hint ?? "command \(id) takes \(known.map { "`\($0)`" }.joined(separator: ", "))")
                }
                parameters.append(CommandParameter(name: name, value: value))
            }
            return .sendCommand(tsmId: id, parameters: parameters)
        case "assign":
            advance()
            try expectWord("group", after: "assign")
            guard let group = identifier() else {
                throw fail("expected a group id after `assign group`, found \(current.quoted)", at: current)
            }
            return .assignGroup(group)
        case "log":
            advance()
            guard case .string(let text) = current.kind else {
                throw fail("expected a quoted text after `log`, found \(current.quoted)", at: current)
            }
            let textToken = current
            advance()
            for name in Placeholder.names(in: text) where !Vocabulary.knownFields.contains(name) && name != "tuid" {
                if let near = Vocabulary.nearMiss(name, in: Vocabulary.knownFields + ["tuid"]) {
                    warning("unknown field `\(name)` in placeholder", at: textToken, hint: "did you mean `\(near)`?")
                }
            }
            return .log(text)
        default:
            let hint = token.word.flatMap { Vocabulary.suggestion($0, in: ["move", "send", "assign", "log"]) }
            throw fail(
                "expected an action, found \(token.quoted)", at: token,
                hint: hint.map { "did you mean `\($0)`?" }
                    ?? "actions are `move to STATUS`, `send command ID KEY=VALUE…`, `assign group ID`, `log \"TEXT\"`")
        }
    }

    private mutating func checkStatus(_ status: String, at token: Token) throws(Failure) {
        guard Vocabulary.statuses.contains(status) else {
            let hint = Vocabulary.suggestion(status, in: Vocabulary.statuses)
            throw fail(
                "unknown status `\(status)`", at: token,
                hint: hint.map { "did you mean `\($0)`?" }
                    ?? "statuses are \(Vocabulary.statuses.map { "`\($0)`" }.joined(separator: ", "))")
        }
    }

    // MARK: Expressions

    mutating func parseExpression() throws(Failure) -> Expression {
        var left = try parseTerm()
        while current.isWord("or") {
            advance()
            left = .or(left, try parseTerm())
        }
        return left
    }

    private mutating func parseTerm() throws(Failure) -> Expression {
        var left = try parseFactor()
        while current.isWord("and") {
            advance()
            left = .and(left, try parseFactor())
        }
        return left
    }

    private mutating func parseFactor() throws(Failure) -> Expression {
        if current.isWord("not") {
            advance()
            return .not(try parseFactor())
        }
        if current.kind == .leftParen {
            advance()
            let inner = try parseExpression()
            guard current.kind == .rightParen else {
                throw fail("expected `)`, found \(current.quoted)", at: current)
            }
            advance()
            return inner
        }
        return try parseTest()
    }

    private static let reserved: Set<String> = [
        "and", "or", "not", "then", "when", "for", "rule", "cooldown", "repeat", "mode", "clear",
    ]

    private mutating func parseTest() throws(Failure) -> Expression {
        let fieldToken = current
        guard let field = current.word, !Parser.reserved.contains(field) else {
            throw fail("expected a condition, found \(current.quoted)", at: current)
        }
        advance()
        if field == "alert" {
            guard case .string(let type) = current.kind else {
                throw fail(
                    "expected the alert type in quotes after `alert`, found \(current.quoted)", at: current,
                    hint: "e.g. `alert \"gateway connection lost\"`")
            }
            advance()
            return .alert(type: type, location: location(fieldToken))
        }
        if !Vocabulary.knownFields.contains(field), let near = Vocabulary.nearMiss(field, in: Vocabulary.knownFields) {
            warning("unknown field `\(field)`", at: fieldToken, hint: "did you mean `\(near)`?")
        }
        let opToken = current
        let op: ComparisonOperator
        switch current.kind {
        case .less: op = .less
        case .lessEqual: op = .lessEqual
        case .greater: op = .greater
        case .greaterEqual: op = .greaterEqual
        case .equalEqual: op = .equal
        case .notEqual: op = .notEqual
        case .word("below"): op = .less
        case .word("above"): op = .greater
        case .word("is"):
            if peek().isWord("not") {
                advance()
                op = .notEqual
            } else {
                op = .equal
            }
        default:
            throw fail(
                "expected a comparison after `\(field)`, found \(current.quoted)", at: current,
                hint: "comparisons are <, <=, >, >=, ==, !=, below, above, is, is not")
        }
        advance()
        let valueToken = current
        let value: Literal
        switch current.kind {
        case .number(let n): value = .number(n)
        case .duration(let s): value = .duration(s)
        case .string(let s): value = .string(s)
        case .word(let w) where !Parser.reserved.contains(w): value = .word(w)
        default:
            throw fail("expected a value after \(opToken.quoted), found \(current.quoted)", at: current)
        }
        advance()
        try checkTest(field: field, op: op, opToken: opToken, value: value, valueToken: valueToken)
        return .test(field: field, op: op, value: value, location: location(fieldToken))
    }

    private mutating func checkTest(
        field: String, op: ComparisonOperator, opToken: Token, value: Literal, valueToken: Token
    ) throws(Failure) {
        switch field {
        case "status", "group", "firmware":
            guard op.isEquality else {
                throw fail(
                    "`\(field)` can only be compared with `is`, `is not`, `==` or `!=`", at: opToken)
            }
            if field == "status" {
                try checkStatus(value.stringValue, at: valueToken)
            }
        case "battery", "silence":
            guard value.numeric != nil else {
                throw fail(
                    "`\(field)` is a number: expected a number after \(opToken.quoted), found \(valueToken.quoted)",
                    at: valueToken)
            }
        default:
            if Vocabulary.messageFields.contains(field), value.numeric == nil {
                throw fail(
                    "`\(field)` is a number: expected a number after \(opToken.quoted), found \(valueToken.quoted)",
                    at: valueToken)
            }
        }
    }
}

/// `{name}` placeholders of a `log` text.
enum Placeholder {
    enum Segment: Sendable, Hashable {
        case text(String)
        case field(String)
    }

    static func segments(_ text: String) -> [Segment] {
        var result: [Segment] = []
        var literal = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            literal += rest[..<open]
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(of: "}") else { break }
            let name = String(rest[after..<close])
            if name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "{" }) {
                literal += rest[open...close]
            } else {
                if !literal.isEmpty { result.append(.text(literal)) }
                literal = ""
                result.append(.field(name))
            }
            rest = rest[rest.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { result.append(.text(literal)) }
        return result
    }

    static func names(in text: String) -> [String] {
        segments(text).compactMap { if case .field(let name) = $0 { name } else { nil } }
    }
}
