import Foundation

/// The loaded rules of one or more files, compiled.
public struct RuleSet: Sendable {
    public let rules: [CompiledRule]
    /// Message fields interned to slots, in slot order.
    let fieldNames: [String]
    /// Slot of `batl`, when any rule reads `battery`.
    let batterySlot: Int?
    /// How much history each slot keeps: reports newer than `seconds` before now, and at least `count`.
    let retentionSeconds: [Int64]
    let retentionCount: [Int]
    /// How long recent message times are kept (de-duplication of late reports, `silence` replay).
    let messageRetention: Int64
    /// The same, for messages de-duplicated before they reach the engine (the scheduler's, `DeviceSnapshot.admit`):
    /// only `silence` replay and late placement need them, not the windows. A day's window of `batl` would otherwise
    /// keep a day of every message's times: most of a saved device row.
    let uniqueMessageRetention: Int64

    /// At most this many reports are kept per field and device: a window holding more sees the newest ones.
    public static let maxSamplesPerField = 4096
    /// A late report may arrive this long after its tsmTs and still be placed in device-time order.
    public static let latenessAllowance: Int64 = 3600

    /// What all rules together need fetched.
    public var needs: RuleNeeds {
        var all = RuleNeeds()
        for rule in rules where rule.mode != .off { all.formUnion(rule.needs) }
        return all
    }

    public func index(of name: String) -> Int? { rules.firstIndex { $0.name == name } }

    /// Parses and compiles several sources at once (rule names must be unique across all of them).
    ///
    /// Rules with errors are left out of the set; every problem is in the diagnostics, in source order.
    /// `lookback` is the scheduler's first-fetch window, for the "window longer than the look-back" warning.
    public static func parse(sources: [(file: String, text: String)], lookback: Int64? = 86400) -> (
        RuleSet, [Diagnostic]
    ) {
        withLargeStack { parseOnThisThread(sources: sources, lookback: lookback) }
    }

    private static func parseOnThisThread(sources: [(file: String, text: String)], lookback: Int64?) -> (
        RuleSet, [Diagnostic]
    ) {
        var all: [RuleSyntax] = []
        var diagnostics: [Diagnostic] = []
        var firstByName: [String: SourceLocation] = [:]
        for source in sources {
            let (rules, found) = Parser.parse(file: source.file, text: source.text, lookback: lookback)
            diagnostics += found
            for rule in rules {
                if let first = firstByName[rule.name] {
                    diagnostics.append(
                        Diagnostic(
                            .error, at: rule.nameLocation,
                            "duplicate rule name `\(rule.name)`", hint: "first defined at \(first)"))
                } else {
                    firstByName[rule.name] = rule.location
                    all.append(rule)
                }
            }
        }
        return (RuleSet(compiling: all), diagnostics)
    }

    /// Parses one source.
    public static func parse(file: String, text: String, lookback: Int64? = 86400) -> (RuleSet, [Diagnostic]) {
        parse(sources: [(file: file, text: text)], lookback: lookback)
    }

    /// Compiles parsed rules. Names are assumed unique.
    public init(compiling syntax: [RuleSyntax]) {
        var compiler = Compiler()
        var rules: [CompiledRule] = []
        for rule in syntax { rules.append(compiler.compile(rule)) }
        self.rules = rules
        self.fieldNames = compiler.fieldNames
        self.batterySlot = compiler.fieldNames.firstIndex(of: "batl")
        self.retentionSeconds = compiler.retentionSeconds
        self.retentionCount = compiler.retentionCount
        self.messageRetention = max(compiler.messageRetention, RuleSet.latenessAllowance)
        self.uniqueMessageRetention = max(compiler.silenceRetention, RuleSet.latenessAllowance)
    }
}

extension CompiledRule {
    /// Whether the rule's condition is followed report by report (for `for`, `clear after`, `clear … for`).
    var isTracked: Bool {
        if hold != nil { return true }
        switch syntax.clearing {
        case .after, .when(_, for: .some): return true
        default: return false
        }
    }

    /// How far back a late report can still change this rule's decision.
    var horizon: Int64 {
        var longest: Int64 = 0
        switch hold {
        case .duration(let d): longest = max(longest, d)
        default: break
        }
        switch syntax.clearing {
        case .after(let d): longest = max(longest, d)
        case .when(_, for: .some(let d)): longest = max(longest, d)
        default: break
        }
        return longest + RuleSet.latenessAllowance
    }
}

/// Turns rule syntax into programs, interning field names to slots shared by all rules of a set.
private struct Compiler {
    var fieldNames: [String] = []
    var retentionSeconds: [Int64] = []
    var retentionCount: [Int] = []
    var messageRetention: Int64 = 0
    var silenceRetention: Int64 = 0

    mutating func slot(_ name: String) -> Int {
        if let slot = fieldNames.firstIndex(of: name) { return slot }
        fieldNames.append(name)
        retentionSeconds.append(0)
        retentionCount.append(0)
        return fieldNames.count - 1
    }

    struct Usage {
        var needs = RuleNeeds()
        var slots: Set<Int> = []
        var silenceOffsets: [Int64] = []
        var usesSilence = false
        var usesAlerts = false
        var fields: Set<String> = []
        var alertTypes: Set<String> = []
        var windows: [(slot: Int, seconds: Int64)] = []
        var timezone: TimeZone?
        var declared: [String] = []

        mutating func read(slot: Int, name: String) {
            slots.insert(slot)
            fields.insert(name)
        }
    }

    mutating func compile(_ rule: RuleSyntax) -> CompiledRule {
        var usage = Usage()
        usage.declared = rule.declaredFields
        usage.timezone = rule.timezone.flatMap { TimeZone(identifier: $0) }
        let condition = program(rule.condition!, &usage)
        let clear = rule.clear.map { program($0, &usage) }
        let actions = rule.actions.map { compileAction($0, &usage) }
        let resolveActions = rule.resolveActions.map { compileAction($0, &usage) }
        if !rule.groups.isEmpty { usage.needs.usesGroup = true }
        usage.needs.messageFields = usage.fields.sorted()
        usage.needs.alertTypes = usage.alertTypes.sorted()
        usage.needs.usesSilence = usage.usesSilence
        let compiled = CompiledRule(
            syntax: rule, needs: usage.needs, condition: condition, clear: clear, slots: usage.slots.sorted(),
            silenceOffsets: Array(Set(usage.silenceOffsets)).sorted(), usesSilence: usage.usesSilence,
            usesAlerts: usage.usesAlerts, actions: actions, resolveActions: resolveActions)
        var needs = compiled.needs
        for (slot, seconds) in usage.windows {
            retentionSeconds[slot] = max(retentionSeconds[slot], seconds)
            retentionCount[slot] = max(retentionCount[slot], 1)
            needs.longestWindow = max(needs.longestWindow, seconds)
            messageRetention = max(messageRetention, seconds)
        }
        if compiled.isTracked {
            let horizon = compiled.horizon
            var count = 2
            switch rule.hold {
            case .reports(let n): count = n + 1
            case .reportsOf(_, let m): count = m + 1
            default: break
            }
            for slot in compiled.slots {
                retentionSeconds[slot] = max(retentionSeconds[slot], horizon)
                retentionCount[slot] = max(retentionCount[slot], min(count, RuleSet.maxSamplesPerField))
            }
            messageRetention = max(messageRetention, horizon)
            if compiled.usesSilence { silenceRetention = max(silenceRetention, horizon) }
            needs.longestWindow = max(needs.longestWindow, horizon - RuleSet.latenessAllowance)
        }
        return CompiledRule(
            syntax: rule, needs: needs, condition: condition, clear: clear, slots: compiled.slots,
            silenceOffsets: compiled.silenceOffsets, usesSilence: compiled.usesSilence,
            usesAlerts: compiled.usesAlerts, actions: actions, resolveActions: resolveActions)
    }

    mutating func compileAction(_ action: Action, _ usage: inout Usage) -> CompiledRule.CompiledAction {
        switch action {
        case .log(let text):
            return .log(logSegments(text, &usage))
        case .moveTo:
            usage.needs.usesStatus = true
        case .notify:
            usage.needs.usesNotify = true
        default:
            break
        }
        return .fixed(action)
    }

    mutating func program(_ expression: Expression, _ usage: inout Usage) -> Program {
        var program = Program()
        program.root = emit(expression, &program, &usage)
        return program
    }

    private func stringIndex(_ s: String, _ program: inout Program) -> Int32 {
        if let i = program.strings.firstIndex(of: s) { return Int32(i) }
        program.strings.append(s)
        return Int32(program.strings.count - 1)
    }

    private func add(_ node: Program.Node, _ program: inout Program) -> Int32 {
        program.nodes.append(node)
        return Int32(program.nodes.count - 1)
    }

    private func list(_ items: [Int32], _ program: inout Program) -> (Int32, Int32) {
        let start = Int32(program.lists.count)
        program.lists += items
        return (start, Int32(items.count))
    }

    /// Whether a value is text: true, false, or nil for a declared field (either).
    private func isText(_ value: ValueExpression, _ usage: Usage) -> Bool? {
        switch value {
        case .text, .word: return true
        case .field(let name, _):
            if Vocabulary.textFields.contains(name) { return true }
            if usage.declared.contains(name) && !Vocabulary.knownFields.contains(name) { return nil }
            return false
        default: return false
        }
    }

    private func isField(_ value: ValueExpression, _ name: String) -> Bool {
        if case .field(name, _) = value { return true }
        return false
    }

    private mutating func emit(_ expression: Expression, _ program: inout Program, _ usage: inout Usage) -> Int32 {
        let index: Int32
        switch expression {
        case .and(let items), .or(let items):
            // Operands that read `status` go last: `and`/`or` stop at the first operand that decides, so the status
            // (fetched only when an evaluation reaches it, `Engine.evaluate(…statusQueried:)`) is needed only when
            // the rest leaves the answer open. Three-valued `and`/`or` do not depend on their operands' order.
            var plain: [Int32] = []
            var readingStatus: [Int32] = []
            let readBefore = usage.needs.readsStatus
            for item in items {
                usage.needs.readsStatus = false
                let child = emit(item, &program, &usage)
                if usage.needs.readsStatus { readingStatus.append(child) } else { plain.append(child) }
            }
            usage.needs.readsStatus = readBefore || !readingStatus.isEmpty
            let (start, count) = list(plain + readingStatus, &program)
            let kind: Program.Kind
            if case .and = expression { kind = .and } else { kind = .or }
            return add(Program.Node(kind: kind, b: start, c: count), &program)
        case .not(let x):
            let a = emit(x, &program, &usage)
            return add(Program.Node(kind: .not, a: a), &program)
        case .alert(let type, _):
            usage.needs.usesAlerts = true
            usage.usesAlerts = true
            usage.alertTypes.insert(type)
            index = add(Program.Node(kind: .alert, b: stringIndex(type, &program)), &program)
        case .absent(let field, _):
            let s = slot(field)
            usage.read(slot: s, name: field)
            index = add(Program.Node(kind: .absent, a: Int32(s)), &program)
        case .compare(let a, let op, let b, _):
            let weekday = isField(a, "weekday") || isField(b, "weekday")
            let text = !weekday && (isText(a, usage) == true || isText(b, usage) == true)
            if text {
                let x = emitText(a, &program, &usage)
                let y = emitText(b, &program, &usage)
                index = add(Program.Node(kind: .compareText, op: op, a: x, b: y), &program)
            } else {
                let x = emitNumber(a, &program, &usage)
                let y = emitNumber(b, &program, &usage)
                index = add(Program.Node(kind: .compareNumber, op: op, a: x, b: y), &program)
            }
            addValues([a, b], program: &program, &usage)
            silenceThresholds([a, b], &usage)
        case .between(let v, let low, let high, _):
            let x = emitNumber(v, &program, &usage)
            let l = emitNumber(low, &program, &usage)
            let h = emitNumber(high, &program, &usage)
            let wrap: UInt8 = isField(v, "hour") ? 24 : isField(v, "weekday") ? 7 : 0
            index = add(Program.Node(kind: .between, aux: wrap, a: x, b: l, c: h), &program)
            addValues([v, low, high], program: &program, &usage)
            silenceThresholds([v, low, high], &usage)
        case .member(let v, let items, _):
            let weekday = isField(v, "weekday")
            let text = !weekday && (isText(v, usage) == true || items.contains { isText($0, usage) == true })
            let x = text ? emitText(v, &program, &usage) : emitNumber(v, &program, &usage)
            let children = items.map { text ? emitText($0, &program, &usage) : emitNumber($0, &program, &usage) }
            let (start, count) = list(children, &program)
            index = add(
                Program.Node(kind: text ? .memberText : .memberNumber, a: x, b: start, c: count), &program)
            addValues([v], program: &program, &usage)
        case .contains(let v, let s, _):
            let x = emitText(v, &program, &usage)
            index = add(Program.Node(kind: .contains, a: x, b: stringIndex(s, &program)), &program)
            addValues([v], program: &program, &usage)
        }
        program.tests.append((index, expression))
        return index
    }

    /// Records the fields and windows of operands, for `Firing.values`, each with a node of its own.
    private mutating func addValues(_ operands: [ValueExpression], program: inout Program, _ usage: inout Usage) {
        for operand in operands {
            for v in leaves(operand) {
                let label = v.text
                if program.values.contains(where: { $0.label == label }) { continue }
                let text = isText(v, usage) != false
                let node = text ? emitText(v, &program, &usage) : emitNumber(v, &program, &usage)
                program.values.append((label, node, text))
            }
        }
    }

    private func leaves(_ v: ValueExpression) -> [ValueExpression] {
        switch v {
        case .field, .window: return [v]
        case .arithmetic(_, let a, let b): return leaves(a) + leaves(b)
        case .negate(let a): return leaves(a)
        default: return []
        }
    }

    /// `silence` compared with a duration flips at the newest message time plus that duration (or one more).
    private func silenceThresholds(_ operands: [ValueExpression], _ usage: inout Usage) {
        guard operands.contains(where: { isField($0, "silence") }) else { return }
        for case .duration(let d) in operands { usage.silenceOffsets += [d, d + 1] }
    }

    private mutating func emitNumber(_ value: ValueExpression, _ program: inout Program, _ usage: inout Usage) -> Int32
    {
        switch value {
        case .number(let n): return add(Program.Node(kind: .constant, number: n), &program)
        case .duration(let s): return add(Program.Node(kind: .constant, number: Double(s)), &program)
        case .text(let w), .word(let w):
            let day = Vocabulary.weekdays.firstIndex(of: w).map(Double.init) ?? Double(w) ?? .nan
            return add(Program.Node(kind: .constant, number: day), &program)
        case .field(let name, _):
            let node: Program.Node
            switch name {
            case "battery":
                usage.needs.usesThingInfo = true
                let batl = slot("batl")
                usage.read(slot: batl, name: "batl")
                node = Program.Node(kind: .battery, a: Int32(batl))
            case "silence":
                usage.usesSilence = true
                node = Program.Node(kind: .silence)
            case "hour": node = Program.Node(kind: .hour)
            case "weekday": node = Program.Node(kind: .weekday)
            case "status", "group", "firmware", "model", "kind":
                // Text in a numeric position: only reachable for a rule that `check` refused.
                node = Program.Node(kind: .constant, number: .nan)
            default:
                let s = slot(name)
                usage.read(slot: s, name: name)
                node = Program.Node(kind: .field, a: Int32(s))
            }
            let index = add(node, &program)
            return index
        case .window(let function, let field, let seconds, _):
            let s = slot(field)
            usage.read(slot: s, name: field)
            usage.windows.append((s, seconds))
            let fn = UInt8(WindowFunction.allCases.firstIndex(of: function)!)
            return add(Program.Node(kind: .window, aux: fn, a: Int32(s), number: Double(seconds)), &program)
        case .arithmetic(let op, let a, let b):
            let x = emitNumber(a, &program, &usage)
            let y = emitNumber(b, &program, &usage)
            let kind: Program.Kind
            switch op {
            case .add: kind = .add
            case .subtract: kind = .subtract
            case .multiply: kind = .multiply
            case .divide: kind = .divide
            }
            return add(Program.Node(kind: kind, a: x, b: y), &program)
        case .negate(let a):
            let x = emitNumber(a, &program, &usage)
            return add(Program.Node(kind: .negate, a: x), &program)
        }
    }

    private mutating func emitText(_ value: ValueExpression, _ program: inout Program, _ usage: inout Usage) -> Int32 {
        switch value {
        case .text(let s), .word(let s):
            return add(Program.Node(kind: .constantText, b: stringIndex(s, &program)), &program)
        case .number(let n):
            return add(Program.Node(kind: .constantText, b: stringIndex(formatNumber(n), &program)), &program)
        case .field(let name, _):
            switch name {
            case "status":
                usage.needs.usesStatus = true
                usage.needs.readsStatus = true
                return add(Program.Node(kind: .status), &program)
            case "group":
                usage.needs.usesGroup = true
                return add(Program.Node(kind: .group), &program)
            case "firmware":
                usage.needs.usesThingInfo = true
                usage.needs.usesFirmware = true
                return add(Program.Node(kind: .firmware), &program)
            case "model": return add(Program.Node(kind: .model), &program)
            case "kind": return add(Program.Node(kind: .kind), &program)
            case "battery", "silence", "hour", "weekday": return emitNumber(value, &program, &usage)
            default:
                let s = slot(name)
                usage.read(slot: s, name: name)
                return add(Program.Node(kind: .fieldText, a: Int32(s)), &program)
            }
        default:
            return emitNumber(value, &program, &usage)
        }
    }

    private mutating func logSegments(_ text: String, _ usage: inout Usage) -> [CompiledRule.LogSegment] {
        Placeholder.segments(text).map { segment in
            switch segment {
            case .text(let t): return .text(t)
            case .field(let name):
                switch name {
                case "tuid": return .tuid
                case "rule": return .rule
                case "severity": return .severity
                case "model": return .model
                case "kind": return .kind
                case "battery":
                    usage.needs.usesThingInfo = true
                    usage.fields.insert("batl")
                    _ = slot("batl")
                    return .battery
                case "status":
                    usage.needs.usesStatus = true
                    usage.needs.readsStatus = true
                    return .status
                case "group":
                    usage.needs.usesGroup = true
                    return .group
                case "firmware":
                    usage.needs.usesThingInfo = true
                    usage.needs.usesFirmware = true
                    return .firmware
                case "silence":
                    usage.usesSilence = true
                    return .silence
                case "hour", "weekday": return .unknown
                default:
                    if Vocabulary.messageFields.contains(name) || usage.declared.contains(name) {
                        usage.fields.insert(name)
                        return .slot(slot(name))
                    }
                    return .unknown
                }
            }
        }
    }
}
