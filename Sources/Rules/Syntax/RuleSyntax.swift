/// A comparison operator of a test. `below`/`above` read as `<`/`>`, `is`/`is not` as `==`/`!=`.
public enum ComparisonOperator: String, Sendable, Hashable, Codable {
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
    case equal = "=="
    case notEqual = "!="

    var isEquality: Bool { self == .equal || self == .notEqual }
}

/// The value on the right of a test.
public enum Literal: Sendable, Hashable {
    case number(Double)
    /// A duration, in seconds (`2h`).
    case duration(Int64)
    case string(String)
    /// A bare word: a status, a group id, …
    case word(String)

    var text: String {
        switch self {
        case .number(let n): return formatNumber(n)
        case .duration(let s): return formatDuration(s)
        case .string(let s): return "\"\(s)\""
        case .word(let w): return w
        }
    }

    var numeric: Double? {
        switch self {
        case .number(let n): return n
        case .duration(let s): return Double(s)
        case .string, .word: return nil
        }
    }

    var stringValue: String {
        switch self {
        case .number(let n): return formatNumber(n)
        case .duration(let s): return formatDuration(s)
        case .string(let s), .word(let s): return s
        }
    }
}

/// A condition as written.
public indirect enum Expression: Sendable, Hashable {
    case and(Expression, Expression)
    case or(Expression, Expression)
    case not(Expression)
    /// `FIELD OP VALUE`; the text is how the test was written, for `explain`.
    case test(field: String, op: ComparisonOperator, value: Literal, location: SourceLocation)
    case alert(type: String, location: SourceLocation)

    /// The expression in canonical form, fully parenthesised where precedence needs it.
    public var text: String {
        switch self {
        case .and(let a, let b): return "\(a.textInside(and: true)) and \(b.textInside(and: true))"
        case .or(let a, let b): return "\(a.text) or \(b.text)"
        case .not(let a):
            if case .test = a { return "not \(a.text)" }
            if case .alert = a { return "not \(a.text)" }
            return "not (\(a.text))"
        case .test(let field, let op, let value, _): return "\(field) \(op.rawValue) \(value.text)"
        case .alert(let type, _): return "alert \"\(type)\""
        }
    }

    private func textInside(and: Bool) -> String {
        if case .or = self { return "(\(text))" }
        return text
    }
}

/// An action as written, and as emitted by a firing (with `log` text filled in).
public enum Action: Sendable, Hashable, Codable, CustomStringConvertible {
    case moveTo(status: String)
    case sendCommand(tsmId: Int, parameters: [CommandParameter])
    case assignGroup(String)
    case log(String)

    /// The action in rule syntax: `move to quarantine`, `send command 1500 reportInterval=60`, `log "…"`.
    public var description: String {
        switch self {
        case .moveTo(let status): return "move to \(status)"
        case .sendCommand(let id, let parameters):
            return (["send command \(id)"] + parameters.map { "\($0.name)=\(formatNumber($0.value))" })
                .joined(separator: " ")
        case .assignGroup(let group): return "assign group \(group)"
        case .log(let text):
            let escaped = text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            return "log \"\(escaped)\""
        }
    }
}

/// One `KEY=NUMBER` of a `send command` action, kept in written order.
public struct CommandParameter: Sendable, Hashable, Codable {
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// How a rule's actions are carried out.
public enum RuleMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Actions are carried out.
    case live
    /// The rule is evaluated and its firings are marked shadow: the caller logs "would" actions only.
    case shadow
    /// The rule is skipped.
    case off
}

/// How long a `when` condition must hold before the rule fires.
public enum Hold: Sendable, Hashable {
    /// `for 30m`, on device time.
    case duration(Int64)
    /// `for 3 reports`: the last N messages carrying the condition's fields all satisfied it.
    case reports(Int)
}

/// A parsed rule, before compilation.
public struct RuleSyntax: Sendable, Hashable {
    public var name: String
    /// Where the `rule` keyword is.
    public var location: SourceLocation
    /// Where the name is.
    public var nameLocation: SourceLocation
    public var groups: [String] = []
    public var tuids: [String] = []
    public var condition: Expression?
    public var hold: Hold?
    public var clear: Expression?
    public var actions: [Action] = []
    public var cooldown: Int64?
    public var repeatEvery: Int64?
    public var repeatMax: Int?
    public var mode: RuleMode = .live
}

func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
        return String(Int64(value))
    }
    return String(value)
}

func formatDuration(_ seconds: Int64) -> String {
    if seconds != 0, seconds % 86400 == 0 { return "\(seconds / 86400)d" }
    if seconds != 0, seconds % 3600 == 0 { return "\(seconds / 3600)h" }
    if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
    return "\(seconds)s"
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
