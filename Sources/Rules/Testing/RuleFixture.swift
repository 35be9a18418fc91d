/// A parsed rule test fixture (`*.test`): devices, timed steps and expected actions on a virtual clock.
struct RuleFixture {
    struct Device {
        var tuid: String
        var observations: DeviceObservations
    }

    enum Step {
        case message(Message)
        /// `at` gives the episode's own `from` (`open @FROM`); nil is the step's time.
        case alertOpen(tuid: String, type: String, at: Int64?)
        case alertClose(tuid: String, type: String, at: Int64?)
        case status(tuid: String, String)
        case group(tuid: String, String)
        case battery(tuid: String, Double)
        case firmware(tuid: String, String)
        case pollFailure(tuid: String)
        case restart
        /// An expected action; `shadow` for `would …`.
        case expect(tuid: String, action: Action, shadow: Bool)
        case expectNothing
    }

    struct TimedStep {
        /// Seconds after `start`.
        var time: Int64
        var step: Step
        var location: SourceLocation
    }

    var file: String
    var ruleFiles: [(name: String, location: SourceLocation)] = []
    var start: Int64 = 1_700_000_000
    var every: Int64?
    var until: Int64?
    var devices: [Device] = []
    var steps: [TimedStep] = []

    static func parse(file: String, text: String) -> (RuleFixture, [Diagnostic]) {
        var fixture = RuleFixture(file: file)
        var diagnostics: [Diagnostic] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            // File names are not tokens of the language: `rules` lines are split on white space.
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            let words = content.split(whereSeparator: { $0.isWhitespace })
            if words.first == "rules" {
                for name in words.dropFirst() {
                    let column = content.distance(from: content.startIndex, to: name.startIndex) + 1
                    fixture.ruleFiles.append(
                        (String(name), SourceLocation(file: file, line: lineNumber, column: column)))
                }
                if words.count == 1 {
                    diagnostics.append(
                        Diagnostic(
                            .error, at: SourceLocation(file: file, line: lineNumber, column: 1),
                            "`rules` needs at least one rule file name"))
                }
                continue
            }
            var line = FixtureLine(file: file, text: String(line), lineNumber: lineNumber)
            if line.current.kind == .end {
                diagnostics += line.diagnostics
                continue
            }
            line.parse(into: &fixture)
            diagnostics += line.diagnostics
        }
        if fixture.ruleFiles.isEmpty {
            diagnostics.append(
                Diagnostic(
                    .error, at: SourceLocation(file: file, line: 1, column: 1), "the fixture names no rule files",
                    hint: "add a line `rules FILE.rules`"))
        }
        return (fixture, diagnostics)
    }
}

/// The parser of one fixture line; reuses the rules parser for actions.
private struct FixtureLine {
    var parser: Parser
    let file: String

    init(file: String, text: String, lineNumber: Int) {
        self.file = file
        self.parser = Parser(file: file, text: text, firstLine: lineNumber)
        self.parser.lookback = nil
    }

    var diagnostics: [Diagnostic] { parser.diagnostics }
    var current: Token { parser.current }

    mutating func fail(_ message: String, hint: String? = nil) -> Parser.Failure {
        parser.fail(message, at: current, hint: hint)
    }

    mutating func word(_ what: String) throws(Parser.Failure) -> String {
        switch current.kind {
        case .word(let w):
            parser.advance()
            return w
        case .number, .duration:
            let text = current.text
            parser.advance()
            return text
        default:
            throw fail("expected \(what), found \(current.quoted)")
        }
    }

    mutating func text(_ what: String) throws(Parser.Failure) -> String {
        if case .string(let s) = current.kind {
            parser.advance()
            return s
        }
        return try word(what)
    }

    mutating func number(_ what: String) throws(Parser.Failure) -> Double {
        var sign = 1.0
        if current.kind == .minus {
            sign = -1
            parser.advance()
        }
        guard case .number(let n) = current.kind else { throw fail("expected \(what), found \(current.quoted)") }
        parser.advance()
        return sign * n
    }

    /// A whole number within `range` (checked before any conversion, so no input can trap).
    mutating func integer(_ what: String, in range: ClosedRange<Double>) throws(Parser.Failure) -> Double {
        let token = current
        let n = try number(what)
        guard n == n.rounded(), range.contains(n) else {
            throw parser.fail(
                "expected \(what), a whole number from \(formatNumber(range.lowerBound)) to "
                    + "\(formatNumber(range.upperBound)), found \(token.quoted)", at: token)
        }
        return n
    }

    /// A time: `10m`, `90s`, or plain seconds.
    mutating func time() throws(Parser.Failure) -> Int64 {
        switch current.kind {
        case .duration(let s?) where s <= 100 * 366 * 86400:
            parser.advance()
            return s
        case .number(let n) where n == n.rounded() && n >= 0 && n <= 1e11:
            parser.advance()
            return Int64(n)
        default:
            throw fail(
                "expected a time such as `10m` or `0`, found \(current.quoted)",
                hint: "times are seconds after `start`, written `90s`, `10m`, `1h30m`, `1d` or `0`")
        }
    }

    mutating func end() throws(Parser.Failure) {
        guard current.kind == .end else { throw fail("unexpected \(current.quoted) at the end of the line") }
    }

    mutating func parse(into fixture: inout RuleFixture) {
        do throws(Parser.Failure) {
            let keyword = current
            let first = try word("a fixture keyword")
            switch first {
            case "start":
                fixture.start = Int64(try integer("Unix seconds", in: 0...4_102_444_800))
                try end()
            case "every":
                fixture.every = try time()
                if fixture.every == 0 { throw parser.fail("`every` needs a positive duration", at: keyword) }
                try end()
            case "until":
                fixture.until = try time()
                try end()
            case "device":
                let tuid = try word("a TUID")
                // Listed by tsee when the fixture starts: `silence` counts from then until a first report.
                var obs = DeviceObservations(alerts: [], firstListedAt: fixture.start)
                while current.kind != .end {
                    let key = try word("`status`, `group`, `battery` or `firmware`")
                    switch key {
                    case "status": obs.status = try status()
                    case "group": obs.group = try word("a group id")
                    case "battery": obs.batteryLevel = try number("a battery level")
                    case "firmware": obs.firmware = try text("a firmware version")
                    case "reported":
                        guard current.kind == .at else { throw fail("expected `@TIME` after `reported`") }
                        parser.advance()
                        obs.lastReportAt = fixture.start + (try time())
                    default:
                        throw parser.fail(
                            "unknown device property `\(key)`", at: parser.tokensBack(1),
                            hint: "device properties are `status`, `group`, `battery`, `firmware` and `reported @TIME`")
                    }
                }
                if fixture.devices.contains(where: { $0.tuid == tuid }) {
                    throw parser.fail("device \(tuid) is declared twice", at: keyword)
                }
                fixture.devices.append(.init(tuid: tuid, observations: obs))
            case "at":
                let location = parser.location(keyword)
                let time = try self.time()
                let step = try parseStep(at: time, fixture: fixture)
                fixture.steps.append(.init(time: time, step: step, location: location))
            default:
                throw parser.fail(
                    "unknown fixture line `\(first)`", at: keyword,
                    hint: "lines start with `rules`, `start`, `every`, `until`, `device` or `at`")
            }
        } catch {
            return
        }
    }

    mutating func status() throws(Parser.Failure) -> String {
        let token = current
        let status = try word("a status")
        if !Vocabulary.statuses.contains(status) {
            let hint = Vocabulary.suggestion(status, in: Vocabulary.statuses).map { "did you mean `\($0)`?" }
            throw parser.fail("unknown status `\(status)`", at: token, hint: hint)
        }
        return status
    }

    mutating func device(_ fixture: RuleFixture) throws(Parser.Failure) -> String {
        let token = current
        let tuid = try word("a TUID")
        guard fixture.devices.contains(where: { $0.tuid == tuid }) else {
            throw parser.fail(
                "device \(tuid) is not declared", at: token, hint: "declare it first: `device \(tuid) status installed`"
            )
        }
        return tuid
    }

    mutating func parseStep(at time: Int64, fixture: RuleFixture) throws(Parser.Failure) -> RuleFixture.Step {
        let verb = try word(
            "a step (`msg`, `alert`, `status`, `group`, `battery`, `firmware`, `pollfail`, `restart`, `expect`)")
        switch verb {
        case "msg":
            let tuid = try device(fixture)
            let id = Int(try integer("a tsmId", in: 0...1_000_000_000))
            var message = Message(tsmId: id, tsmEv: 10, tsmTs: time, tsmTuid: tuid)
            while current.kind != .end {
                if current.kind == .at {
                    parser.advance()
                    message.tsmTs = try self.time()
                    continue
                }
                let name = try word("`NAME=VALUE`, `ev N` or `@TIME`")
                if name == "ev" {
                    message.tsmEv = Int(try integer("an event number", in: 0...65535))
                    continue
                }
                guard current.kind == .equals else { throw fail("expected `=` after `\(name)`") }
                parser.advance()
                switch current.kind {
                case .number, .minus:
                    message.numbers.append(NumberProperty(name: name, value: try number("a number")))
                case .string(let s):
                    message.strings.append(StringProperty(name: name, value: s))
                    parser.advance()
                default:
                    throw fail("expected a number or a quoted text after `\(name)=`")
                }
            }
            return .message(message)
        case "alert":
            let tuid = try device(fixture)
            guard case .string(let type) = current.kind else { throw fail("expected the alert type in quotes") }
            parser.advance()
            let what = try word("`open` or `close`")
            var at: Int64?
            if current.kind == .at {
                parser.advance()
                at = try self.time()
            }
            try end()
            switch what {
            case "open": return .alertOpen(tuid: tuid, type: type, at: at)
            case "close": return .alertClose(tuid: tuid, type: type, at: at)
            default: throw parser.fail("expected `open` or `close`, found `\(what)`", at: parser.tokensBack(1))
            }
        case "status":
            let tuid = try device(fixture)
            let status = try status()
            try end()
            return .status(tuid: tuid, status)
        case "group":
            let tuid = try device(fixture)
            let group = try word("a group id")
            try end()
            return .group(tuid: tuid, group)
        case "battery":
            let tuid = try device(fixture)
            let level = try number("a battery level")
            try end()
            return .battery(tuid: tuid, level)
        case "firmware":
            let tuid = try device(fixture)
            let version = try text("a firmware version")
            try end()
            return .firmware(tuid: tuid, version)
        case "pollfail":
            let tuid = try device(fixture)
            try end()
            return .pollFailure(tuid: tuid)
        case "restart":
            try end()
            return .restart
        case "expect":
            if current.isWord("nothing") {
                parser.advance()
                try end()
                return .expectNothing
            }
            let tuid = try device(fixture)
            var shadow = false
            if current.isWord("would") {
                shadow = true
                parser.advance()
            }
            let action = try parser.parseAction()
            try end()
            return .expect(tuid: tuid, action: action, shadow: shadow)
        default:
            throw parser.fail(
                "unknown step `\(verb)`", at: parser.tokensBack(1),
                hint:
                    "steps are `msg`, `alert`, `status`, `group`, `battery`, `firmware`, `pollfail`, `restart`, `expect`"
            )
        }
    }
}
