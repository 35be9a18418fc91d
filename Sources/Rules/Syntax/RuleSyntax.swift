import ThingseeKit

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

/// `+ - * /` between values.
public enum ArithmeticOperator: String, Sendable, Hashable, Codable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
}

/// A window over a field's recent reports: `avg(temp, 1h)`.
public enum WindowFunction: String, Sendable, Hashable, Codable, CaseIterable {
    case avg, min, max, delta, count
}

/// How serious a rule's firing is; recorded with every action.
public enum Severity: String, Sendable, Hashable, Codable, CaseIterable {
    case info, warning, critical
}

/// A value as written: a literal, a field, a window, or arithmetic over them.
public indirect enum ValueExpression: Sendable, Hashable {
    case number(Double)
    /// A duration literal, in seconds (`2h`).
    case duration(Int64)
    /// A quoted text.
    case text(String)
    /// A bare word used as text: a status, a group id, a weekday (`installed`, `mon`).
    case word(String)
    case field(String, SourceLocation)
    case window(WindowFunction, field: String, seconds: Int64, SourceLocation)
    case arithmetic(ArithmeticOperator, ValueExpression, ValueExpression)
    case negate(ValueExpression)

    /// The value in canonical form, parenthesised where precedence needs it.
    public var text: String {
        switch self {
        case .number(let n): return formatNumber(n)
        case .duration(let s): return DurationText.format(s)
        case .text(let s): return "\"\(s)\""
        case .word(let w): return w
        case .field(let name, _): return name
        case .window(let function, let field, let seconds, _):
            return "\(function.rawValue)(\(field), \(DurationText.format(seconds)))"
        case .arithmetic(let op, let a, let b):
            let tight = op == .multiply || op == .divide
            func wrap(_ v: ValueExpression, right: Bool) -> String {
                if case .arithmetic(let inner, _, _) = v {
                    let innerTight = inner == .multiply || inner == .divide
                    if (tight && !innerTight) || (right && (op == .subtract || op == .divide || tight != innerTight)) {
                        return "(\(v.text))"
                    }
                }
                return v.text
            }
            return "\(wrap(a, right: false)) \(op.rawValue) \(wrap(b, right: true))"
        case .negate(let v):
            if case .arithmetic = v { return "-(\(v.text))" }
            return "-\(v.text)"
        }
    }
}

/// A condition as written.
public indirect enum Expression: Sendable, Hashable {
    case and([Expression])
    case or([Expression])
    case not(Expression)
    case compare(ValueExpression, ComparisonOperator, ValueExpression, SourceLocation)
    /// `VALUE between LOW and HIGH`, both ends included.
    case between(ValueExpression, ValueExpression, ValueExpression, SourceLocation)
    /// `VALUE in (A, B, …)`.
    case member(ValueExpression, [ValueExpression], SourceLocation)
    /// `VALUE contains "TEXT"`.
    case contains(ValueExpression, String, SourceLocation)
    case alert(type: String, location: SourceLocation)
    /// `absent F`: the device has never reported F.
    case absent(field: String, location: SourceLocation)

    /// The expression in canonical form, parenthesised where precedence needs it.
    public var text: String {
        switch self {
        case .and(let items): return items.map { $0.textInside(and: true) }.joined(separator: " and ")
        case .or(let items): return items.map(\.text).joined(separator: " or ")
        case .not(let a):
            switch a {
            case .and, .or, .not: return "not (\(a.text))"
            default: return "not \(a.text)"
            }
        case .compare(let a, let op, let b, _): return "\(a.text) \(op.rawValue) \(b.text)"
        case .between(let v, let low, let high, _): return "\(v.text) between \(low.text) and \(high.text)"
        case .member(let v, let list, _): return "\(v.text) in (\(list.map(\.text).joined(separator: ", ")))"
        case .contains(let v, let s, _): return "\(v.text) contains \"\(s)\""
        case .alert(let type, _): return "alert \"\(type)\""
        case .absent(let field, _): return "absent \(field)"
        }
    }

    private func textInside(and: Bool) -> String {
        if case .or = self { return "(\(text))" }
        return text
    }

    /// The tests (leaves) of the condition, in written order.
    var tests: [Expression] {
        switch self {
        case .and(let items), .or(let items): return items.flatMap(\.tests)
        case .not(let a): return a.tests
        default: return [self]
        }
    }
}

/// An action as written, and as emitted by a firing (with `log` text filled in).
public enum Action: Sendable, Hashable, Codable, CustomStringConvertible {
    case moveTo(status: String)
    case sendCommand(tsmId: Int, parameters: [CommandParameter])
    case assignGroup(String)
    case log(String)
    /// A webhook: an `https://` URL (or `http://` to loopback), or the name of a configured target.
    case notify(target: String)

    /// The action in rule syntax: `move to quarantine`, `send command 1500 reportInterval=60`, `log "…"`.
    public var description: String {
        switch self {
        case .moveTo(let status): return "move to \(status)"
        case .sendCommand(let id, let parameters):
            return (["send command \(id)"] + parameters.map { "\($0.name)=\(formatNumber($0.value))" })
                .joined(separator: " ")
        case .assignGroup(let group): return "assign group \(group)"
        case .log(let text): return "log \(quote(text))"
        case .notify(let target):
            return target.contains(":") || target.contains("/") ? "notify \(quote(target))" : "notify \(target)"
        }
    }

    private func quote(_ text: String) -> String {
        let escaped = text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
        return "\"\(escaped)\""
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
    /// `for 3 reports`: the last N reports carrying the condition's fields all satisfied it.
    case reports(Int)
    /// `for 2 of 3 reports`: at least N of the last M did.
    case reportsOf(Int, Int)
}

/// When a firing rule resolves, beyond "its condition is not true".
public enum Clear: Sendable, Hashable {
    /// `clear after D`: once the condition has been not-true for D.
    case after(Int64)
    /// `clear when X [for D]`: once X holds (for D).
    case when(Expression, for: Int64?)
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
    public var clearing: Clear?
    public var actions: [Action] = []
    public var resolveActions: [Action] = []
    public var cooldown: Int64?
    public var repeatEvery: Int64?
    public var repeatMax: Int?
    public var mode: RuleMode = .live
    public var severity: Severity?
    /// The file's `timezone` (IANA name), for `hour` and `weekday`; nil is UTC.
    public var timezone: String?
    /// The file's `field` declarations.
    public var declaredFields: [String] = []

    /// The `clear when` condition, if any.
    public var clear: Expression? {
        if case .when(let x, _) = clearing { return x }
        return nil
    }
}

func formatNumber(_ value: Double) -> String {
    if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
        return String(Int64(value))
    }
    return String(value)
}

func formatDuration(_ seconds: Int64) -> String { DurationText.format(seconds) }

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
