/// The loaded rules of one or more files, compiled.
public struct RuleSet: Sendable {
    public let rules: [CompiledRule]
    /// Message fields interned to slots, in slot order.
    let fieldNames: [String]
    /// Slot of `batl`, when any rule reads `battery`.
    let batterySlot: Int?

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
    public static func parse(sources: [(file: String, text: String)]) -> (RuleSet, [Diagnostic]) {
        var all: [RuleSyntax] = []
        var diagnostics: [Diagnostic] = []
        var firstByName: [String: SourceLocation] = [:]
        for source in sources {
            let (rules, found) = Parser.parse(file: source.file, text: source.text)
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
    public static func parse(file: String, text: String) -> (RuleSet, [Diagnostic]) {
        parse(sources: [(file: file, text: text)])
    }

    /// Compiles parsed rules. Names are assumed unique.
    public init(compiling syntax: [RuleSyntax]) {
        var compiler = Compiler()
        var rules: [CompiledRule] = []
        for rule in syntax { rules.append(compiler.compile(rule)) }
        self.rules = rules
        self.fieldNames = compiler.fieldNames
        self.batterySlot = compiler.fieldNames.firstIndex(of: "batl")
    }
}

/// Turns rule syntax into programs, interning field names to slots shared by all rules of a set.
private struct Compiler {
    var fieldNames: [String] = []

    mutating func slot(_ name: String) -> Int {
        if let slot = fieldNames.firstIndex(of: name) { return slot }
        fieldNames.append(name)
        return fieldNames.count - 1
    }

    struct Usage {
        var needs = RuleNeeds()
        var mask: UInt64 = 0
        var timeDependent = false
        var silenceOffsets: [Int64] = []
        var usesSilence = false
        var fields: Set<String> = []
        var alertTypes: Set<String> = []

        mutating func read(slot: Int, name: String) {
            mask |= 1 << UInt64(min(slot, 63))
            fields.insert(name)
        }
    }

    mutating func compile(_ rule: RuleSyntax) -> CompiledRule {
        var usage = Usage()
        let condition = program(rule.condition!, &usage)
        let clear = rule.clear.map { program($0, &usage) }
        var actions: [CompiledRule.CompiledAction] = []
        for action in rule.actions {
            switch action {
            case .log(let text):
                actions.append(.log(logSegments(text, &usage)))
            case .moveTo:
                usage.needs.usesStatus = true
                actions.append(.fixed(action))
            default:
                actions.append(.fixed(action))
            }
        }
        if !rule.groups.isEmpty { usage.needs.usesGroup = true }
        usage.needs.messageFields = usage.fields.sorted()
        usage.needs.alertTypes = usage.alertTypes.sorted()
        return CompiledRule(
            syntax: rule, needs: usage.needs, condition: condition, clear: clear, fieldMask: usage.mask,
            isTimeDependent: usage.timeDependent, silenceOffsets: Array(Set(usage.silenceOffsets)).sorted(),
            usesSilence: usage.usesSilence, actions: actions)
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

    private mutating func emit(_ expression: Expression, _ program: inout Program, _ usage: inout Usage) -> Int32 {
        var node: Program.Node
        switch expression {
        case .and(let x, let y), .or(let x, let y):
            let a = emit(x, &program, &usage)
            let b = emit(y, &program, &usage)
            let kind: Program.Kind
            if case .and = expression { kind = .and } else { kind = .or }
            node = Program.Node(kind: kind, a: a, b: b)
        case .not(let x):
            node = Program.Node(kind: .not, a: emit(x, &program, &usage))
        case .alert(let type, _):
            usage.needs.usesAlerts = true
            usage.timeDependent = true
            usage.alertTypes.insert(type)
            node = Program.Node(kind: .alert, b: stringIndex(type, &program))
        case .test(let field, let op, let value, _):
            switch field {
            case "battery":
                usage.needs.usesThingInfo = true
                let batl = slot("batl")
                usage.read(slot: batl, name: "batl")
                node = Program.Node(kind: .battery, op: op, a: Int32(batl), number: value.numeric ?? .nan)
            case "silence":
                let seconds = Int64((value.numeric ?? 0).rounded(.up))
                usage.timeDependent = true
                usage.usesSilence = true
                usage.silenceOffsets += [seconds, seconds + 1]
                node = Program.Node(kind: .silence, op: op, number: value.numeric ?? .nan)
            case "status":
                usage.needs.usesStatus = true
                usage.needs.readsStatus = true
                node = Program.Node(kind: .status, op: op, b: stringIndex(value.stringValue, &program))
            case "group":
                usage.needs.usesGroup = true
                node = Program.Node(kind: .group, op: op, b: stringIndex(value.stringValue, &program))
            case "firmware":
                usage.needs.usesThingInfo = true
                usage.needs.usesFirmware = true
                node = Program.Node(kind: .firmware, op: op, b: stringIndex(value.stringValue, &program))
            default:
                let s = slot(field)
                usage.read(slot: s, name: field)
                if let number = value.numeric {
                    node = Program.Node(kind: .field, op: op, a: Int32(s), number: number)
                } else {
                    node = Program.Node(
                        kind: .fieldText, op: op, a: Int32(s), b: stringIndex(value.stringValue, &program))
                }
            }
        }
        program.nodes.append(node)
        let index = Int32(program.nodes.count - 1)
        switch expression {
        case .test, .alert: program.tests.append((index, expression))
        default: break
        }
        return index
    }

    private mutating func logSegments(_ text: String, _ usage: inout Usage) -> [CompiledRule.LogSegment] {
        Placeholder.segments(text).map { segment in
            switch segment {
            case .text(let t): return .text(t)
            case .field(let name):
                switch name {
                case "tuid": return .tuid
                case "rule": return .rule
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
                case "silence": return .silence
                default:
                    usage.fields.insert(name)
                    return .slot(slot(name))
                }
            }
        }
    }
}
