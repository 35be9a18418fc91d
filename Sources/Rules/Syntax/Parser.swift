import Foundation
import ThingseeKit

/// Parses one rule source into rules, collecting every problem as a diagnostic.
///
/// Tokens are pulled from the lexer one at a time and nesting is bounded (`maxDepth`), so any input ends with
/// diagnostics in time and memory proportional to its size. After an error the parser resumes at the next
/// clause keyword or the next `rule`.
struct Parser {
    struct Failure: Error {}

    /// How deeply conditions and values may nest: parentheses, `not`, operators of a chain.
    static let maxDepth = 256
    /// The largest count a rule may write (`for N reports`, `max N`).
    static let maxCount = 1_000_000
    /// The largest M of `for N of M reports`: the engine keeps the last M outcomes per device.
    static let maxReportWindow = 1024
    /// Diagnostics kept per source; the rest are counted in one closing note.
    static let maxDiagnostics = 1000

    private var lexer: Lexer
    /// `lookahead[0]` is the current token.
    private var lookahead: [Token] = []
    private(set) var previous: Token
    private let file: String
    private var collected: [Diagnostic] = []
    private var dropped = 0
    private var errorsCollected = 0
    private var depth = 0
    /// The file header's `field` names and `timezone`.
    private(set) var declaredFields: [String] = []
    private(set) var timezone: String?
    /// The scheduler's look-back, for the "window longer than the look-back" warning; nil to skip it.
    var lookback: Int64? = 86400

    init(file: String, text: String, firstLine: Int = 1) {
        self.file = file
        self.lexer = Lexer(file: file, text: text, firstLine: firstLine)
        let first = lexer.next()
        self.previous = first
        self.lookahead = [first]
    }

    /// Every diagnostic, lexer's included, in source order.
    var diagnostics: [Diagnostic] {
        var all = (collected + lexer.diagnostics).sorted { ($0.line, $0.column) < ($1.line, $1.column) }
        if all.count > Parser.maxDiagnostics || dropped > 0 {
            let total = collected.count + lexer.diagnostics.count + dropped
            all = Array(all.prefix(Parser.maxDiagnostics))
            all.append(
                Diagnostic(
                    .error, at: SourceLocation(file: file, line: current.line, column: current.column),
                    "too many problems: showing the first \(Parser.maxDiagnostics) of \(total)"))
        }
        return all
    }

    static func parse(file: String, text: String, lookback: Int64? = 86400) -> (
        rules: [RuleSyntax], diagnostics: [Diagnostic]
    ) {
        var parser = Parser(file: file, text: text)
        parser.lookback = lookback
        let rules = parser.parseFile()
        return (rules, parser.diagnostics)
    }

    // MARK: Token access

    var current: Token { lookahead[0] }
    func tokensBack(_ n: Int) -> Token { previous }
    private mutating func peek() -> Token {
        if lookahead.count < 2 {
            lookahead.append(current.kind == .end ? current : lexer.next())
        }
        return lookahead[1]
    }
    var atEnd: Bool { current.kind == .end }

    mutating func advance() {
        if current.kind == .end { return }
        previous = lookahead.removeFirst()
        if lookahead.isEmpty { lookahead.append(lexer.next()) }
    }

    func location(_ token: Token) -> SourceLocation {
        SourceLocation(file: file, line: token.line, column: token.column)
    }

    private mutating func add(_ diagnostic: Diagnostic) {
        if isSaturated {
            dropped += 1
        } else {
            if diagnostic.severity == .error { errorsCollected += 1 }
            collected.append(diagnostic)
        }
    }

    /// Whether no more diagnostics are kept: then hints need not be computed.
    var isSaturated: Bool { collected.count + lexer.diagnostics.count >= Parser.maxDiagnostics }

    var errorCount: Int { errorsCollected + lexer.diagnostics.count + dropped }

    mutating func error(_ message: String, at token: Token, hint: String? = nil) {
        add(Diagnostic(.error, at: location(token), message, hint: hint))
    }

    mutating func error(_ message: String, at location: SourceLocation, hint: String? = nil) {
        add(Diagnostic(.error, at: location, message, hint: hint))
    }

    mutating func warning(_ message: String, at token: Token, hint: String? = nil) {
        add(Diagnostic(.warning, at: location(token), message, hint: hint))
    }

    mutating func warning(_ message: String, at location: SourceLocation, hint: String? = nil) {
        add(Diagnostic(.warning, at: location, message, hint: hint))
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

    static let clauseWords: Set<String> = [
        "rule", "when", "then", "cooldown", "repeat", "mode", "clear", "resolve", "severity", "in", "on",
    ]
    static let actionVerbs = ["move", "send", "assign", "log", "notify"]

    /// Whether the current token starts a clause (or a new rule): where recovery resumes.
    private mutating func atClauseStart() -> Bool {
        switch current.kind {
        case .arrow, .end: return true
        case .word(let w):
            switch w {
            case "rule", "when", "then", "cooldown", "repeat", "resolve", "severity": return true
            case "mode": return peek().word.map { RuleMode(rawValue: $0) != nil } ?? false
            case "clear": return peek().isWord("when") || peek().isWord("after")
            case "in": return peek().isWord("group")
            case "on": return peek().word != nil
            default: return false
            }
        default: return false
        }
    }

    private mutating func synchronize() {
        while !atClauseStart() { advance() }
    }

    // MARK: File

    mutating func parseFile() -> [RuleSyntax] {
        parseHeader()
        var rules: [RuleSyntax] = []
        while !atEnd {
            if current.isWord("rule") {
                if let rule = parseRule() { rules.append(rule) }
            } else {
                if current.isWord("timezone") || current.isWord("field") {
                    error(
                        "`\(current.text)` belongs in the file header, before the first rule", at: current,
                        hint: "move it to the top of the file")
                } else {
                    error("expected `rule`, found \(current.quoted)", at: current)
                }
                advance()
                while !atEnd && !current.isWord("rule") { advance() }
            }
        }
        return rules
    }

    private mutating func parseHeader() {
        while current.isWord("timezone") || current.isWord("field") {
            let keyword = current
            advance()
            if keyword.isWord("timezone") {
                guard case .string(let name) = current.kind else {
                    error(
                        "expected a time zone name in quotes after `timezone`, found \(current.quoted)", at: current,
                        hint: "e.g. `timezone \"Europe/Helsinki\"`")
                    continue
                }
                if timezone != nil { error("the file has more than one `timezone`", at: keyword) }
                if TimeZone(identifier: name) == nil {
                    error(
                        "unknown time zone \(current.quoted)", at: current,
                        hint: "an IANA name such as \"Europe/Helsinki\" or \"UTC\"")
                }
                timezone = name
                advance()
                continue
            }
            repeat {
                if current.kind == .comma { advance() }
                let token = current
                guard let name = current.word, !Parser.reservedValueWords.contains(name),
                    !Parser.clauseWords.contains(name)
                else {
                    error("expected a field name after `field`, found \(current.quoted)", at: current)
                    break
                }
                advance()
                if Vocabulary.knownFields.contains(name) {
                    warning("`\(name)` is already a field; the declaration changes nothing", at: token)
                } else if !declaredFields.contains(name) {
                    declaredFields.append(name)
                }
            } while current.kind == .comma
        }
    }

    /// Parses one rule; nil when it had errors (they are in `diagnostics`).
    private mutating func parseRule() -> RuleSyntax? {
        let ruleToken = current
        let errorsBefore = errorCount
        advance()
        let nameToken = current
        guard let name = identifier(), !Parser.clauseWords.contains(name) else {
            error("expected a rule name after `rule`, found \(nameToken.quoted)", at: nameToken)
            while !atEnd && !current.isWord("rule") { advance() }
            return nil
        }
        var rule = RuleSyntax(name: name, location: location(ruleToken), nameLocation: location(nameToken))
        rule.timezone = timezone
        rule.declaredFields = declaredFields
        if current.kind == .colon { advance() }
        var seen: Set<String> = []
        while !atEnd && !current.isWord("rule") {
            let start = current
            do throws(Failure) {
                try parseClause(into: &rule, seen: &seen)
            } catch {
                synchronize()
            }
            if current == start && !atEnd && !current.isWord("rule") {
                advance()  // never loop on one token
            }
        }
        if rule.condition == nil && !seen.contains("when") {
            error("rule `\(name)` has no `when` clause", at: ruleToken, hint: "add `when CONDITION`")
        }
        if rule.actions.isEmpty && !seen.contains("then") {
            error("rule `\(name)` has no `then` clause", at: ruleToken, hint: "add `then ACTION` (or `-> ACTION`)")
        }
        return errorCount == errorsBefore ? rule : nil
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
                let groupToken = current
                guard let group = current.word ?? (current.kind == .comma ? nil : numberWord()),
                    !Parser.clauseWords.contains(group)
                else {
                    throw fail(
                        "expected a group id after `in group`, found \(groupToken.quoted)", at: groupToken,
                        hint: "e.g. `in group prfi00coldchain`")
                }
                advance()
                rule.groups.append(group)
            } while current.kind == .comma
        case "on":
            advance()
            repeat {
                if current.kind == .comma { advance() }
                let tuidToken = current
                guard let tuid = current.word, !Parser.clauseWords.contains(tuid) else {
                    throw fail("expected a TUID after `on`, found \(current.quoted)", at: current)
                }
                advance()
                if !TUID.isWellFormed(tuid) {
                    warning(
                        "`\(tuid)` does not look like a TUID", at: tuidToken,
                        hint: "a TUID is 17 upper-case letters and digits, e.g. `TSPD04ESY93100802`")
                }
                rule.tuids.append(tuid)
            } while current.kind == .comma
        case "when":
            once("when", token, &seen, rule: rule.name)
            advance()
            rule.condition = try parseCondition()
            if current.isWord("for") {
                advance()
                rule.hold = try parseHold()
            }
        case "clear":
            once("clear", token, &seen, rule: rule.name)
            advance()
            if current.isWord("after") {
                advance()
                rule.clearing = .after(try parseDuration(after: "clear after"))
            } else {
                try expectWord("when", after: "clear")
                let condition = try parseCondition()
                var duration: Int64?
                if current.isWord("for") {
                    advance()
                    duration = try parseDuration(after: "clear when … for")
                }
                rule.clearing = .when(condition, for: duration)
            }
        case "then":
            once("then", token, &seen, rule: rule.name)
            advance()
            rule.actions += try parseActions()
        case "resolve":
            once("resolve", token, &seen, rule: rule.name)
            advance()
            rule.resolveActions += try parseActions()
        case "cooldown":
            once("cooldown", token, &seen, rule: rule.name)
            advance()
            rule.cooldown = try parseDuration(after: "cooldown")
        case "repeat":
            once("repeat", token, &seen, rule: rule.name)
            advance()
            try expectWord("every", after: "repeat")
            let every = try parseDuration(after: "repeat every")
            if every == 0 {
                error("`repeat every` needs a positive duration", at: previous)
            }
            rule.repeatEvery = every
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
        case "severity":
            once("severity", token, &seen, rule: rule.name)
            advance()
            let valueToken = current
            guard let value = current.word, let severity = Severity(rawValue: value) else {
                let hint = current.word.flatMap { Vocabulary.suggestion($0, in: Severity.allCases.map(\.rawValue)) }
                throw fail(
                    "unknown severity \(valueToken.quoted)", at: valueToken,
                    hint: hint.map { "did you mean `\($0)`?" } ?? "severities are `info`, `warning` and `critical`")
            }
            advance()
            rule.severity = severity
        default:
            if Parser.actionVerbs.contains(word) {
                throw fail(
                    "`\(word)` starts an action, but no `then` comes before it", at: token,
                    hint: "write `then \(word) …` (or `-> \(word) …`)")
            }
            if word == "timezone" || word == "field" {
                throw fail(
                    "`\(word)` belongs in the file header, before the first rule", at: token,
                    hint: "move it to the top of the file")
            }
            let clauses = ["when", "then", "clear", "resolve", "cooldown", "repeat", "mode", "severity", "in", "on"]
            let hint = Vocabulary.suggestion(word, in: clauses).map { "did you mean `\($0)`?" }
            throw fail(
                "unexpected \(token.quoted); expected a clause such as `when` or `then`", at: token, hint: hint)
        }
    }

    private func numberWord() -> String? {
        switch current.kind {
        case .number, .duration: return current.text
        default: return nil
        }
    }

    static func looksLikeTUID(_ text: String) -> Bool { TUID.isWellFormed(text) }

    private mutating func parseHold() throws(Failure) -> Hold {
        let token = current
        if case .number(let n) = token.kind {
            let count = try checkedCount(n, token, what: "`for`", minimum: 1)
            advance()
            if current.isWord("reports") || current.isWord("report") {
                advance()
                return .reports(count)
            }
            if current.isWord("of") {
                advance()
                let mToken = current
                guard case .number(let m) = mToken.kind else {
                    throw fail("expected a number after `for \(token.text) of`, found \(mToken.quoted)", at: mToken)
                }
                let total = try checkedCount(m, mToken, what: "`of`", minimum: 1)
                advance()
                guard current.isWord("reports") || current.isWord("report") else {
                    throw fail(
                        "expected `reports` after `for \(token.text) of \(mToken.text)`, found \(current.quoted)",
                        at: current)
                }
                advance()
                if total < count {
                    throw fail(
                        "`for \(count) of \(total) reports` can never hold: \(count) is more than \(total)", at: token)
                }
                if total > Parser.maxReportWindow {
                    throw fail(
                        "`of \(total) reports` keeps too many outcomes per device", at: mToken,
                        hint: "at most \(Parser.maxReportWindow) reports; use a duration window for more")
                }
                return .reportsOf(count, total)
            }
            throw fail(
                "expected `reports`, `of` or a duration unit after `for \(token.text)`", at: current,
                hint: "write `for \(token.text)m` (a duration) or `for \(token.text) reports`")
        }
        return .duration(try parseDuration(after: "for"))
    }

    private mutating func checkedCount(_ n: Double, _ token: Token, what: String, minimum: Int) throws(Failure) -> Int
    {
        guard n == n.rounded(), n >= Double(minimum) else {
            throw fail("expected a whole number of at least \(minimum) after \(what), found \(token.quoted)", at: token)
        }
        guard n <= Double(Parser.maxCount) else {
            throw fail(
                "count \(token.quoted) is over 1,000,000", at: token, hint: "counts are at most 1,000,000")
        }
        return Int(n)
    }

    private mutating func parseDuration(after previous: String) throws(Failure) -> Int64 {
        let token = current
        switch token.kind {
        case .duration(let seconds):
            advance()
            guard let seconds, seconds <= DurationText.maxSeconds else {
                throw fail(
                    "duration \(token.quoted) is over 100 years", at: token,
                    hint: "durations are at most 100 years (36525d)")
            }
            return seconds
        case .word, .number:
            advance()
            throw fail(
                "malformed duration \(token.quoted)", at: token,
                hint: "a duration is whole numbers followed by s, m, h or d, e.g. `30m` or `1h30m`")
        default:
            throw fail("expected a duration after `\(previous)`, found \(token.quoted)", at: token)
        }
    }

    private mutating func parseCount(after previous: String) throws(Failure) -> Int {
        let token = current
        guard case .number(let n) = token.kind else {
            throw fail("expected a whole number after `\(previous)`, found \(token.quoted)", at: token)
        }
        let count = try checkedCount(n, token, what: "`\(previous)`", minimum: 0)
        advance()
        return count
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

    /// A number, with an optional leading minus.
    private mutating func signedNumber() -> Double? {
        if current.kind == .minus, case .number(let n) = peek().kind {
            advance()
            advance()
            return -n
        }
        if case .number(let n) = current.kind {
            advance()
            return n
        }
        return nil
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
            try checkStatus(status, at: location(statusToken))
            return .moveTo(status: status)
        case "send":
            advance()
            try expectWord("command", after: "send")
            let idToken = current
            guard case .number(let n) = idToken.kind, n == n.rounded(), n >= 0, n < 1e9 else {
                throw fail("expected a command id after `send command`, found \(idToken.quoted)", at: idToken)
            }
            advance()
            let id = Int(n)
            let known = CommandCatalogue.parameters[id]
            if known == nil {
                let hint = Vocabulary.suggestion(String(id), in: Vocabulary.commandIds.map(String.init))
                error(
                    "command id \(id) is not one of 1500, 1501, 12200, 13200", at: idToken,
                    hint: hint.map { "did you mean `\($0)`?" })
            }
            var parameters: [CommandParameter] = []
            while let name = current.word, peek().kind == .equals {
                let nameToken = current
                advance()
                advance()
                let valueToken = current
                guard let value = signedNumber() else {
                    throw fail("expected a number after `\(name)=`, found \(current.quoted)", at: current)
                }
                if let known {
                    if let parameter = known.first(where: { $0.name == name }) {
                        if let range = parameter.range, !range.contains(value) {
                            warning(
                                "`\(name)` of command \(id) is \(formatNumber(range.lowerBound))–"
                                    + "\(formatNumber(range.upperBound)); the device clamps \(formatNumber(value))",
                                at: valueToken)
                        }
                    } else {
                        let names = known.map(\.name)
                        let hint = Vocabulary.suggestion(name, in: names).map { "did you mean `\($0)`?" }
                        error(
                            "command \(id) takes no parameter `\(name)`", at: nameToken,
                            hint: hint ?? "command \(id) takes \(names.map { "`\($0)`" }.joined(separator: ", "))")
                    }
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
            let known = Vocabulary.knownFields + declaredFields + ["tuid", "rule", "severity"]
            for name in Placeholder.names(in: text) where !known.contains(name) {
                let near = Vocabulary.fieldSuggestion(name, known: known)
                warning(
                    "unknown field `\(name)` in placeholder: it will read `?`", at: textToken,
                    hint: near.map { "did you mean `\($0)`?" })
            }
            return .log(text)
        case "notify":
            advance()
            let targetToken = current
            switch current.kind {
            case .string(let url):
                advance()
                if let problem = Parser.webhookProblem(url) {
                    throw fail(
                        "notify target \(targetToken.quoted) \(problem)", at: targetToken,
                        hint: "a webhook is an `https://` URL, or `http://` to 127.0.0.1, ::1 or localhost")
                }
                return .notify(target: url)
            case .word(let name):
                advance()
                guard Parser.isTargetName(name) else {
                    throw fail(
                        "`\(name)` is not a notify target name", at: targetToken,
                        hint: "a name is letters, digits, `_` and `-`, starting with a letter; or a quoted URL")
                }
                return .notify(target: name)
            default:
                throw fail(
                    "expected a webhook URL in quotes or a target name after `notify`, found \(current.quoted)",
                    at: current, hint: "e.g. `notify ops` or `notify \"https://hooks.example.com/x\"`")
            }
        default:
            let hint = token.word.flatMap { Vocabulary.suggestion($0, in: Parser.actionVerbs) }
            throw fail(
                "expected an action, found \(token.quoted)", at: token,
                hint: hint.map { "did you mean `\($0)`?" }
                    ?? "actions are `move to STATUS`, `send command ID KEY=VALUE…`, `assign group ID`, `log \"TEXT\"`, "
                    + "`notify TARGET`")
        }
    }

    /// Why a webhook URL is refused, or nil when it is acceptable.
    static func webhookProblem(_ url: String) -> String? {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = Substring(url.dropFirst(8))
        } else if lower.hasPrefix("http://") {
            rest = Substring(url.dropFirst(7))
        } else {
            return "is not an http(s) URL"
        }
        guard !rest.contains(where: { $0.isWhitespace || $0.isNewline }) else { return "contains white space" }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        var host: Substring
        if hostPort.hasPrefix("[") {
            host = hostPort.dropFirst().prefix { $0 != "]" }
        } else {
            host = hostPort.prefix { $0 != ":" }
        }
        host = Substring(host.lowercased())
        if host.isEmpty { return "has no host" }
        if lower.hasPrefix("http://") && !NetworkHost.isLoopback(String(host)) {
            return "sends in clear text to another machine"
        }
        return nil
    }

    static func isTargetName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCII, first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-")
        }
    }

    private mutating func checkStatus(_ status: String, at location: SourceLocation) throws(Failure) {
        guard Vocabulary.statuses.contains(status) else {
            let hint = Vocabulary.suggestion(status, in: Vocabulary.statuses)
            error(
                "unknown status `\(status)`", at: location,
                hint: hint.map { "did you mean `\($0)`?" }
                    ?? "statuses are \(Vocabulary.statuses.map { "`\($0)`" }.joined(separator: ", "))")
            throw Failure()
        }
    }

    // MARK: Expressions

    /// A parsed operand: a condition, or a value (with its first token, for messages).
    private enum Operand {
        case condition(Expression, Token)
        case value(ValueExpression, Token)

        var token: Token {
            switch self {
            case .condition(_, let t), .value(_, let t): return t
            }
        }
    }

    private mutating func enter(_ token: Token) throws(Failure) {
        depth += 1
        if depth > Parser.maxDepth {
            depth -= 1
            throw fail(
                "nesting deeper than \(Parser.maxDepth)", at: token,
                hint: "split the condition, or name parts of it in several rules")
        }
    }

    /// A `when`/`clear when` condition, checked.
    mutating func parseCondition() throws(Failure) -> Expression {
        depth = 0
        let start = current
        let parsed = try parseOr()
        let condition = try requireCondition(parsed, start)
        let errorsBefore = errorCount
        let checked = check(condition)
        if errorCount != errorsBefore { throw Failure() }
        return checked
    }

    private mutating func requireCondition(_ operand: Operand, _ start: Token) throws(Failure) -> Expression {
        switch operand {
        case .condition(let e, _): return e
        case .value(let v, let token):
            var hint = "compare it, e.g. `\(v.text) > 0`"
            if case .field(let name, _) = v, Vocabulary.actionVerbsHint(name) {
                hint = "a `then` is missing before the action"
            }
            throw fail(
                "expected a condition, found the value `\(v.text)`", at: token, hint: hint)
        }
    }

    private mutating func requireValue(_ operand: Operand) throws(Failure) -> ValueExpression {
        switch operand {
        case .value(let v, _): return v
        case .condition(let e, let token):
            throw fail("expected a value, found the condition `\(e.text)`", at: token)
        }
    }

    private mutating func parseOr() throws(Failure) -> Operand {
        let start = current
        let first = try parseAnd()
        guard current.isWord("or") else { return first }
        var items = [try requireCondition(first, start)]
        while current.isWord("or") {
            advance()
            let next = current
            items.append(try requireCondition(try parseAnd(), next))
        }
        return .condition(.or(items), start)
    }

    private mutating func parseAnd() throws(Failure) -> Operand {
        let start = current
        let first = try parseNot()
        guard current.isWord("and") else { return first }
        var items = [try requireCondition(first, start)]
        while current.isWord("and") {
            advance()
            let next = current
            items.append(try requireCondition(try parseNot(), next))
        }
        return .condition(.and(items), start)
    }

    private mutating func parseNot() throws(Failure) -> Operand {
        let token = current
        guard current.isWord("not") else { return try parseComparison() }
        try enter(token)
        defer { depth -= 1 }
        advance()
        let next = current
        return .condition(.not(try requireCondition(try parseNot(), next)), token)
    }

    private mutating func comparisonOperator() -> ComparisonOperator? {
        switch current.kind {
        case .less: return .less
        case .lessEqual: return .lessEqual
        case .greater: return .greater
        case .greaterEqual: return .greaterEqual
        case .equalEqual: return .equal
        case .notEqual: return .notEqual
        case .word("below"): return .less
        case .word("above"): return .greater
        case .word("is"):
            if peek().isWord("not") {
                advance()
                return .notEqual
            }
            return .equal
        default: return nil
        }
    }

    private mutating func parseComparison() throws(Failure) -> Operand {
        let start = current
        let left = try parseSum()
        let at = location(start)
        if current.kind == .equals {
            throw fail("`=` is not a comparison", at: current, hint: "write `==` (or `is`)")
        }
        if let op = comparisonOperator() {
            advance()
            let a = try requireValue(left)
            let b = try requireValue(try parseSum())
            return .condition(.compare(a, op, b, at), start)
        }
        if current.isWord("between") {
            advance()
            let a = try requireValue(left)
            let low = try requireValue(try parseSum())
            guard current.isWord("and") else {
                throw fail("expected `and` after `between \(low.text)`, found \(current.quoted)", at: current)
            }
            advance()
            let high = try requireValue(try parseSum())
            return .condition(.between(a, low, high, at), start)
        }
        if current.isWord("in"), peek().kind == .leftParen {
            let a = try requireValue(left)
            advance()
            advance()
            var list: [ValueExpression] = []
            while true {
                list.append(try requireValue(try parseSum()))
                if list.count > Parser.maxCount {
                    throw fail("the list is longer than 1,000,000 values", at: current)
                }
                if current.kind == .comma {
                    advance()
                    continue
                }
                guard current.kind == .rightParen else {
                    throw fail("expected `,` or `)` in the list, found \(current.quoted)", at: current)
                }
                advance()
                break
            }
            return .condition(.member(a, list, at), start)
        }
        if current.isWord("contains") {
            advance()
            let a = try requireValue(left)
            guard case .string(let text) = current.kind else {
                throw fail(
                    "expected a quoted text after `contains`, found \(current.quoted)", at: current,
                    hint: "e.g. `firmware contains \"pod3\"`")
            }
            advance()
            return .condition(.contains(a, text, at), start)
        }
        if case .value(let v, let token) = left {
            // A value alone where a condition belongs: say which comparison is missing.
            if case .field(let name, _) = v, Vocabulary.actionVerbsHint(name) {
                throw fail(
                    "`\(name)` starts an action, but no `then` comes before it", at: token,
                    hint: "write `then \(name) …` (or `-> \(name) …`)")
            }
            if case .field = v, current.kind != .rightParen, !atEnd, !atClauseStart(), current.word != nil {
                throw fail(
                    "expected a comparison after `\(v.text)`, found \(current.quoted)", at: current,
                    hint: "comparisons are <, <=, >, >=, ==, !=, below, above, is, is not, between, in, contains")
            }
        }
        return left
    }

    private mutating func parseSum() throws(Failure) -> Operand {
        let start = current
        var left = try parseProduct()
        var entered = 0
        defer { depth -= entered }
        while current.kind == .plus || current.kind == .minus {
            let op: ArithmeticOperator = current.kind == .plus ? .add : .subtract
            try enter(current)
            entered += 1
            advance()
            let a = try requireValue(left)
            let b = try requireValue(try parseProduct())
            left = .value(.arithmetic(op, a, b), start)
        }
        return left
    }

    private mutating func parseProduct() throws(Failure) -> Operand {
        let start = current
        var left = try parseUnary()
        var entered = 0
        defer { depth -= entered }
        while current.kind == .star || current.kind == .slash {
            let op: ArithmeticOperator = current.kind == .star ? .multiply : .divide
            try enter(current)
            entered += 1
            advance()
            let a = try requireValue(left)
            let b = try requireValue(try parseUnary())
            left = .value(.arithmetic(op, a, b), start)
        }
        return left
    }

    private mutating func parseUnary() throws(Failure) -> Operand {
        let token = current
        guard current.kind == .minus else { return try parsePrimary() }
        try enter(token)
        defer { depth -= 1 }
        advance()
        let operand = try requireValue(try parseUnary())
        if case .number(let n) = operand { return .value(.number(-n), token) }
        return .value(.negate(operand), token)
    }

    /// Words that never name a field in operand position.
    static let reservedValueWords: Set<String> = [
        "and", "or", "not", "then", "when", "for", "rule", "cooldown", "repeat", "clear", "resolve", "severity",
        "between", "contains", "is", "below", "above", "on",
    ]

    private mutating func parsePrimary() throws(Failure) -> Operand {
        let token = current
        switch token.kind {
        case .number(let n):
            advance()
            return .value(.number(n), token)
        case .duration(let seconds):
            advance()
            guard let seconds, seconds <= DurationText.maxSeconds else {
                throw fail(
                    "duration \(token.quoted) is over 100 years", at: token,
                    hint: "durations are at most 100 years (36525d)")
            }
            return .value(.duration(seconds), token)
        case .string(let s):
            advance()
            return .value(.text(s), token)
        case .leftParen:
            try enter(token)
            defer { depth -= 1 }
            advance()
            let inner = try parseOr()
            guard current.kind == .rightParen else {
                throw fail("expected `)`, found \(current.quoted)", at: current)
            }
            advance()
            return inner
        case .word(let w):
            if w == "alert" {
                advance()
                guard case .string(let type) = current.kind else {
                    throw fail(
                        "expected the alert type in quotes after `alert`, found \(current.quoted)", at: current,
                        hint: "e.g. `alert \"gateway connection lost\"`")
                }
                advance()
                return .condition(.alert(type: type, location: location(token)), token)
            }
            if w == "absent" {
                advance()
                let fieldToken = current
                guard let field = current.word, !Parser.reservedValueWords.contains(field) else {
                    throw fail("expected a field after `absent`, found \(current.quoted)", at: current)
                }
                advance()
                return .condition(.absent(field: field, location: location(fieldToken)), token)
            }
            if let function = WindowFunction(rawValue: w), peek().kind == .leftParen {
                advance()
                advance()
                let fieldToken = current
                guard let field = current.word, !Parser.reservedValueWords.contains(field) else {
                    throw fail("expected a field in `\(w)(FIELD, DURATION)`, found \(current.quoted)", at: current)
                }
                advance()
                guard current.kind == .comma else {
                    throw fail(
                        "expected `,` and a duration after `\(w)(\(field)`, found \(current.quoted)", at: current,
                        hint: "e.g. `\(w)(\(field), 1h)`")
                }
                advance()
                let seconds = try parseDuration(after: "\(w)(\(field),")
                guard current.kind == .rightParen else {
                    throw fail("expected `)` after the window's duration, found \(current.quoted)", at: current)
                }
                advance()
                return .value(.window(function, field: field, seconds: seconds, location(fieldToken)), token)
            }
            if Parser.reservedValueWords.contains(w) || (w == "in" && peek().isWord("group")) {
                throw fail("expected a value, found \(token.quoted)", at: token)
            }
            advance()
            return .value(.field(w, location(token)), token)
        default:
            throw fail("expected a condition, found \(token.quoted)", at: token)
        }
    }
}

extension Vocabulary {
    /// Whether a word read as a field is an action verb: then a `then` is missing.
    static func actionVerbsHint(_ word: String) -> Bool { Parser.actionVerbs.contains(word) }
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
