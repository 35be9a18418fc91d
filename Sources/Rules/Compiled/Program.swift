/// Three-valued truth: a test on a field never seen is unknown, and unknown propagates.
public enum Truth: UInt8, Sendable, Hashable, Codable, CustomStringConvertible {
    case no = 0
    case yes = 1
    case unknown = 2

    public var description: String {
        switch self {
        case .no: return "false"
        case .yes: return "true"
        case .unknown: return "unknown"
        }
    }
}

/// A condition compiled to a flat node array: fields are slots, alert types indices; no strings are hashed
/// and nothing is allocated while evaluating.
struct Program: Sendable {
    enum Kind: UInt8, Sendable {
        case and, or, not
        /// Message field `a` compared with `number`.
        case field
        /// Message field `a` compared with `strings[b]`.
        case fieldText
        /// `battery`: slot `a` (batl, or -1), else thing info.
        case battery
        case silence
        case status, group, firmware
        /// Alert type `strings[b]` open.
        case alert
    }

    struct Node: Sendable {
        var kind: Kind
        var op: ComparisonOperator = .equal
        var a: Int32 = -1
        var b: Int32 = -1
        var number: Double = 0
    }

    var nodes: ContiguousArray<Node> = []
    var strings: [String] = []
    /// For each test node, the expression it came from (for `explain`).
    var tests: [(node: Int32, expression: Expression)] = []
    var root: Int32 = 0

    @inline(__always)
    static func compare(_ x: Double, _ op: ComparisonOperator, _ y: Double) -> Bool {
        switch op {
        case .less: return x < y
        case .lessEqual: return x <= y
        case .greater: return x > y
        case .greaterEqual: return x >= y
        case .equal: return x == y
        case .notEqual: return x != y
        }
    }

    @inline(__always)
    static func equality(_ equal: Bool, _ op: ComparisonOperator) -> Truth {
        (equal == (op == .equal)) ? .yes : .no
    }

    func evaluate(_ obs: borrowing DeviceObservations, at time: Int64) -> Truth {
        nodes.withUnsafeBufferPointer { Program.evaluate(root, $0, strings, obs, time) }
    }

    func evaluate(node: Int32, _ obs: borrowing DeviceObservations, at time: Int64) -> Truth {
        nodes.withUnsafeBufferPointer { Program.evaluate(node, $0, strings, obs, time) }
    }

    /// Appends this program to a shared node array; returns the root's index there.
    func append(to allNodes: inout ContiguousArray<Node>, strings allStrings: inout [String]) -> Int32 {
        let nodeOffset = Int32(allNodes.count)
        let stringOffset = Int32(allStrings.count)
        for var node in nodes {
            switch node.kind {
            case .and, .or:
                node.a += nodeOffset
                node.b += nodeOffset
            case .not:
                node.a += nodeOffset
            case .fieldText, .status, .group, .firmware, .alert:
                node.b += stringOffset
            case .field, .battery, .silence:
                break
            }
            allNodes.append(node)
        }
        allStrings += strings
        return root + nodeOffset
    }

    static func evaluate(
        _ index: Int32, _ nodes: UnsafeBufferPointer<Node>, _ strings: [String], _ obs: borrowing DeviceObservations,
        _ time: Int64
    ) -> Truth {
        let node = nodes[Int(index)]
        switch node.kind {
        case .and:
            let x = evaluate(node.a, nodes, strings, obs, time)
            if x == .no { return .no }
            let y = evaluate(node.b, nodes, strings, obs, time)
            if y == .no { return .no }
            return x == .yes && y == .yes ? .yes : .unknown
        case .or:
            let x = evaluate(node.a, nodes, strings, obs, time)
            if x == .yes { return .yes }
            let y = evaluate(node.b, nodes, strings, obs, time)
            if y == .yes { return .yes }
            return x == .no && y == .no ? .no : .unknown
        case .not:
            switch evaluate(node.a, nodes, strings, obs, time) {
            case .yes: return .no
            case .no: return .yes
            case .unknown: return .unknown
            }
        case .field:
            let slot = Int(node.a)
            let kind = obs.kinds[slot]
            if kind == DeviceObservations.number {
                return Program.compare(obs.numbers[slot], node.op, node.number) ? .yes : .no
            }
            return .unknown
        case .fieldText:
            let slot = Int(node.a)
            switch obs.kinds[slot] {
            case DeviceObservations.text: return Program.equality(obs.strings[slot] == strings[Int(node.b)], node.op)
            case DeviceObservations.number:
                return Program.equality(formatNumber(obs.numbers[slot]) == strings[Int(node.b)], node.op)
            default: return .unknown
            }
        case .battery:
            let value: Double
            if node.a >= 0, obs.kinds[Int(node.a)] == DeviceObservations.number {
                value = obs.numbers[Int(node.a)]
            } else if let level = obs.batteryLevel {
                value = level
            } else {
                return .unknown
            }
            return Program.compare(value, node.op, node.number) ? .yes : .no
        case .silence:
            guard let newest = obs.newestMessageTime else { return .unknown }
            return Program.compare(Double(time - newest), node.op, node.number) ? .yes : .no
        case .status:
            guard let status = obs.status else { return .unknown }
            return Program.equality(status == strings[Int(node.b)], node.op)
        case .group:
            guard let group = obs.group else { return .unknown }
            return Program.equality(group == strings[Int(node.b)], node.op)
        case .firmware:
            guard let firmware = obs.firmware else { return .unknown }
            return Program.equality(firmware == strings[Int(node.b)], node.op)
        case .alert:
            guard let alerts = obs.alerts else { return .unknown }
            let type = strings[Int(node.b)]
            for episode in alerts where episode.isOpen(at: time) && episode.type == type {
                return .yes
            }
            return .no
        }
    }
}
