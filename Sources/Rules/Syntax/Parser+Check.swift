import ThingseeKit

/// The types a value can have; `any` for a `field` declaration, whose reports may carry text or numbers.
enum ValueType: Equatable {
    case number, duration, text, weekday, any

    var name: String {
        switch self {
        case .number: return "a number"
        case .duration: return "a duration"
        case .text: return "text"
        case .weekday: return "a weekday"
        case .any: return "a declared field"
        }
    }
}

/// The checks of `rules check` on a condition: closed vocabulary, types, bare words.
extension Parser {
    /// The type of a field name, or nil when the name is not in the vocabulary.
    func fieldType(_ name: String) -> ValueType? {
        if Vocabulary.messageFields.contains(name) { return .number }
        switch name {
        case "battery", "hour": return .number
        case "silence": return .duration
        case "weekday": return .weekday
        default: break
        }
        if Vocabulary.textFields.contains(name) { return .text }
        if declaredFields.contains(name) { return .any }
        return nil
    }

    mutating func unknownField(_ name: String, at location: SourceLocation) {
        if isSaturated {
            error("unknown field `\(name)`", at: location)
            return
        }
        let known = Vocabulary.knownFields + declaredFields
        let near = Vocabulary.fieldSuggestion(name, known: known)
        error(
            "unknown field `\(name)`", at: location,
            hint: near.map { "did you mean `\($0)`?" }
                ?? "fields are the catalogue's (temp, batl, carbonDioxide, …), battery, status, group, firmware, "
                + "silence, model, kind, hour, weekday, or a name declared with `field` at the top of the file")
    }

    /// Checks a condition; returns it with bare words resolved to text.
    mutating func check(_ expression: Expression) -> Expression {
        switch expression {
        case .and(let items): return .and(items.map { check($0) })
        case .or(let items): return .or(items.map { check($0) })
        case .not(let a): return .not(check(a))
        case .alert(let type, let location):
            if !Vocabulary.alertTypes.contains(type) {
                let near = Vocabulary.suggestion(type, in: Vocabulary.alertTypes)
                warning(
                    "alert type \"\(type)\" is not documented: the platform raises only "
                        + Vocabulary.alertTypes.map { "\"\($0)\"" }.joined(separator: ", "), at: location,
                    hint: near.map { "did you mean \"\($0)\"?" })
            }
            return expression
        case .absent(let field, let location):
            if fieldType(field) == nil {
                unknownField(field, at: location)
            } else if !Vocabulary.messageFields.contains(field) && !declaredFields.contains(field) {
                error("`absent` takes a message field; `\(field)` is computed by tsee", at: location)
            }
            return expression
        case .compare(let a, let op, let b, let location):
            var (a, b) = (a, b)
            resolveWords(&a, against: b)
            resolveWords(&b, against: a)
            guard let ta = type(of: a), let tb = type(of: b) else { return .compare(a, op, b, location) }
            checkComparable(a, ta, b, tb, at: location)
            if !op.isEquality {
                for (v, t) in [(a, ta), (b, tb)] where t == .weekday || isEqualityOnly(v) {
                    error(
                        "`\(v.text)` can only be compared with `is`, `is not`, `==` or `!=`", at: location,
                        hint: t == .weekday ? "for a range of days write `weekday between mon and fri`" : nil)
                    break
                }
            }
            checkWordValues(a, b)
            checkWordValues(b, a)
            return .compare(a, op, b, location)
        case .between(let v, let low, let high, let location):
            var (low, high) = (low, high)
            resolveWords(&low, against: v)
            resolveWords(&high, against: v)
            guard let tv = type(of: v), let tl = type(of: low), let th = type(of: high) else {
                return .between(v, low, high, location)
            }
            if tv == .text || ((tl == .text || th == .text) && tv != .weekday) {
                error("`between` needs numbers, durations or weekdays; `\(v.text)` is text", at: location)
            } else {
                checkComparable(v, tv, low, tl, at: location)
                checkComparable(v, tv, high, th, at: location)
            }
            checkWordValues(low, v)
            checkWordValues(high, v)
            return .between(v, low, high, location)
        case .member(let v, let list, let location):
            guard let tv = type(of: v) else { return expression }
            var resolved: [ValueExpression] = []
            for item in list {
                var item = item
                resolveWords(&item, against: v)
                if let ti = type(of: item) {
                    checkComparable(v, tv, item, ti, at: location)
                    checkWordValues(item, v)
                }
                resolved.append(item)
            }
            return .member(v, resolved, location)
        case .contains(let v, _, let location):
            if let t = type(of: v), t != .text, t != .any {
                error("`contains` needs text; `\(v.text)` is \(t.name)", at: location)
            }
            return expression
        }
    }

    /// Fields whose `<`/`>` make no sense: only equality.
    private func isEqualityOnly(_ v: ValueExpression) -> Bool {
        if case .field(let name, _) = v { return ["status", "group", "kind", "model"].contains(name) }
        return false
    }

    /// A bare word beside a text field is text (`status is installed`), not an unknown field.
    private func resolveWords(_ value: inout ValueExpression, against other: ValueExpression) {
        guard case .field(let name, _) = value, fieldType(name) == nil else { return }
        guard case .field(let otherName, _) = other, let t = fieldType(otherName) else { return }
        if t == .text || t == .weekday || t == .any { value = .word(name) }
    }

    /// Statuses, kinds and weekdays must be real ones.
    private mutating func checkWordValues(_ value: ValueExpression, _ field: ValueExpression) {
        guard case .field(let name, let location) = field else { return }
        let text: String
        switch value {
        case .word(let w), .text(let w): text = w
        default: return
        }
        let candidates: [String]
        switch name {
        case "status": candidates = Vocabulary.statuses
        case "kind": candidates = Vocabulary.kinds
        case "weekday": candidates = Vocabulary.weekdays
        default: return
        }
        guard !candidates.contains(text) else { return }
        let near = Vocabulary.suggestion(text, in: candidates)
        error(
            "unknown \(name == "weekday" ? "weekday" : name) `\(text)`", at: location,
            hint: near.map { "did you mean `\($0)`?" }
                ?? "\(name) is one of \(candidates.map { "`\($0)`" }.joined(separator: ", "))")
    }

    private mutating func checkComparable(
        _ a: ValueExpression, _ ta: ValueType, _ b: ValueExpression, _ tb: ValueType, at location: SourceLocation
    ) {
        if ta == tb || ta == .any || tb == .any { return }
        if (ta == .weekday && tb == .text) || (ta == .text && tb == .weekday) { return }
        for (x, tx, y, ty) in [(a, ta, b, tb), (b, tb, a, ta)] {
            if tx == .text || tx == .weekday, ty == .number {
                if case .number(let n) = y {
                    error(
                        "`\(x.text)` is text, compared with the number \(formatNumber(n))", at: location,
                        hint: "\(x.text) is text: write \"\(formatNumber(n))\"")
                } else {
                    error("`\(x.text)` is text, `\(y.text)` a number: they cannot be compared", at: location)
                }
                return
            }
            if tx == .duration, ty == .number {
                if case .number(let n) = y {
                    let n = formatNumber(n)
                    error(
                        "`\(x.text)` is a duration, compared with the bare number \(n)", at: location,
                        hint: "give the unit: `\(n)s`, `\(n)m`, `\(n)h` or `\(n)d`")
                } else {
                    error("`\(x.text)` is a duration, `\(y.text)` a number: they cannot be compared", at: location)
                }
                return
            }
            if tx == .text, ty == .duration {
                error("`\(x.text)` is text, `\(y.text)` a duration: they cannot be compared", at: location)
                return
            }
        }
    }

    /// The type of a value; nil after reporting why it has none.
    mutating func type(of value: ValueExpression) -> ValueType? {
        switch value {
        case .number: return .number
        case .duration: return .duration
        case .text, .word: return .text
        case .field(let name, let location):
            guard let t = fieldType(name) else {
                unknownField(name, at: location)
                return nil
            }
            return t
        case .window(let function, let field, let seconds, let location):
            guard let t = fieldType(field) else {
                unknownField(field, at: location)
                return nil
            }
            guard Vocabulary.messageFields.contains(field) || declaredFields.contains(field) else {
                error(
                    "`\(function.rawValue)` windows take a message field; `\(field)` (\(t.name)) is computed by tsee",
                    at: location)
                return nil
            }
            if seconds == 0 {
                error("a window of 0s holds no report", at: location, hint: "e.g. `\(function.rawValue)(\(field), 1h)`")
            }
            if let lookback, seconds > lookback {
                warning(
                    "`\(value.text)` reaches further back than the look-back (\(DurationText.format(lookback))): "
                        + "after a fresh start it sees only that much until it fills",
                    at: location)
            }
            return .number
        case .negate(let v):
            guard let t = type(of: v) else { return nil }
            if t == .text || t == .weekday {
                error("`-\(v.text)`: \(v.text) is text", at: location(of: v))
                return nil
            }
            return t
        case .arithmetic(let op, let a, let b):
            guard let ta = type(of: a), let tb = type(of: b) else { return nil }
            for (v, t) in [(a, ta), (b, tb)] where t == .text || t == .weekday {
                error("`\(v.text)` is text: no arithmetic on text", at: location(of: v))
                return nil
            }
            switch (op, ta, tb) {
            case (_, .any, _), (_, _, .any): return .any
            case (_, .number, .number): return .number
            case (.add, .duration, .duration), (.subtract, .duration, .duration): return .duration
            case (.multiply, .duration, .number), (.multiply, .number, .duration), (.divide, .duration, .number):
                return .duration
            case (.divide, .duration, .duration): return .number
            default:
                error(
                    "`\(value.text)` mixes \(ta.name) and \(tb.name)", at: location(of: a),
                    hint: ta == .duration || tb == .duration ? "write durations with a unit, e.g. `2h`" : nil)
                return nil
            }
        }
    }

    func location(of value: ValueExpression) -> SourceLocation {
        switch value {
        case .field(_, let l), .window(_, _, _, let l): return l
        case .arithmetic(_, let a, _): return location(of: a)
        case .negate(let a): return location(of: a)
        default: return SourceLocation(file: "", line: current.line, column: current.column)
        }
    }
}
