import Foundation
import ThingseeKit

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

/// A condition compiled to a flat node array: fields are slots, texts indices; evaluation hashes no string
/// and allocates nothing for numeric conditions. Values are `Double`, NaN standing for unknown, so arithmetic
/// never traps: overflow gives infinities, division by zero is unknown.
struct Program: Sendable {
    enum Kind: UInt8, Sendable {
        // Conditions.
        /// `lists[b ..< b + c]` are the operands.
        case and, or
        case not
        case compareNumber, compareText
        /// `a between b and c`; `aux` 24 (hour) or 7 (weekday) lets a range wrap around.
        case between
        /// `a in (lists[b ..< b + c])`.
        case memberNumber, memberText
        /// Text node `a` contains `strings[b]`.
        case contains
        case alert
        case absent
        // Numeric values.
        case constant, field, battery, silence, hour, weekday, window
        case add, subtract, multiply, divide, negate
        // Text values.
        case constantText, fieldText, status, group, firmware, model, kind
    }

    struct Node: Sendable {
        var kind: Kind
        var op: ComparisonOperator = .equal
        /// Window function (index in `WindowFunction.allCases`) or wrap-around modulus.
        var aux: UInt8 = 0
        var a: Int32 = -1
        var b: Int32 = -1
        var c: Int32 = -1
        var number: Double = 0
    }

    var nodes: ContiguousArray<Node> = []
    var strings: [String] = []
    var lists: [Int32] = []
    var root: Int32 = 0
    /// For each test node, the expression it came from (for `explain`).
    var tests: [(node: Int32, expression: Expression)] = []
    /// The fields and windows the condition reads, by label, for `Firing.values` and `explain`.
    var values: [(label: String, node: Int32, isText: Bool)] = []

    /// Appends this program to shared arrays; returns the root's index there.
    func append(
        to allNodes: inout ContiguousArray<Node>, strings allStrings: inout [String], lists allLists: inout [Int32]
    ) -> Int32 {
        let nodeOffset = Int32(allNodes.count)
        let stringOffset = Int32(allStrings.count)
        let listOffset = Int32(allLists.count)
        for var node in nodes {
            switch node.kind {
            case .and, .or, .memberNumber, .memberText:
                node.b += listOffset
                if node.kind == .memberNumber || node.kind == .memberText { node.a += nodeOffset }
            case .not, .negate:
                node.a += nodeOffset
            case .compareNumber, .compareText, .add, .subtract, .multiply, .divide:
                node.a += nodeOffset
                node.b += nodeOffset
            case .between:
                node.a += nodeOffset
                node.b += nodeOffset
                node.c += nodeOffset
            case .contains:
                node.a += nodeOffset
                node.b += stringOffset
            case .alert, .constantText:
                node.b += stringOffset
            default:
                break
            }
            allNodes.append(node)
        }
        allStrings += strings
        allLists += lists.map { $0 + nodeOffset }
        return root + nodeOffset
    }
}

/// Evaluates compiled conditions for one device at one device time.
struct Evaluator {
    let nodes: UnsafeBufferPointer<Program.Node>
    let strings: [String]
    let lists: [Int32]
    var timezone: TimeZone?
    let model: String
    let kind: String
    /// Set when the installation status, unknown, could change whether a rule's condition is true (`ruleTruth`).
    var statusQueried: UnsafeMutablePointer<Bool>? = nil
    /// The status `ruleTruth` tries in place of an unknown one.
    var assumedStatus: String? = nil

    /// The installation statuses a device can have, and one text equal to none of them (a status this version
    /// does not know): what `ruleTruth` tries in place of an unknown status.
    static let statusCandidates = InstallationStatus.names + ["\u{FFFF}"]

    /// The truth of a rule's condition or clear condition: `truth`, and, when the installation status is unknown,
    /// whether knowing it could change that.
    ///
    /// The engine acts only on *true* (a rule fires, is held or clears only when its condition is true; false and
    /// unknown act alike), and three-valued logic is monotonic: a result that is true or false without the status
    /// is the same with any status. So the status matters only when the result is unknown, the evaluation reached
    /// a `status` test, and some status would make the condition true; then `statusQueried` is set and the caller
    /// fetches the status and evaluates again (`Engine.evaluate(…statusQueried:)`).
    @inline(__always)
    func ruleTruth(_ index: Int32, _ obs: borrowing DeviceObservations, _ time: Int64) -> Truth {
        guard let probe = statusQueried, obs.status == nil, !probe.pointee else { return truth(index, obs, time) }
        return probingTruth(index, obs, time, probe)
    }

    private func probingTruth(
        _ index: Int32, _ obs: borrowing DeviceObservations, _ time: Int64, _ probe: UnsafeMutablePointer<Bool>
    ) -> Truth {
        let value = truth(index, obs, time)
        guard probe.pointee else { return value }
        // A `status` test was reached: keep the mark only if some status would make the condition true.
        probe.pointee = false
        if value == .unknown {
            var trial = self
            trial.statusQueried = nil
            for candidate in Self.statusCandidates {
                trial.assumedStatus = candidate
                if trial.truth(index, obs, time) == .yes {
                    probe.pointee = true
                    break
                }
            }
        }
        return value
    }

    @inline(__always)
    static func compare(_ x: Double, _ op: ComparisonOperator, _ y: Double) -> Truth {
        if x.isNaN || y.isNaN { return .unknown }
        switch op {
        case .less: return x < y ? .yes : .no
        case .lessEqual: return x <= y ? .yes : .no
        case .greater: return x > y ? .yes : .no
        case .greaterEqual: return x >= y ? .yes : .no
        case .equal: return x == y ? .yes : .no
        case .notEqual: return x != y ? .yes : .no
        }
    }

    /// Dot-separated version order: numeric parts compare as numbers ("2019.11.15.2" < "2020.1").
    static func versionOrder(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".", omittingEmptySubsequences: false)
        let y = b.split(separator: ".", omittingEmptySubsequences: false)
        for i in 0..<max(x.count, y.count) {
            let p = i < x.count ? x[i] : "0"
            let q = i < y.count ? y[i] : "0"
            if p == q { continue }
            if let m = UInt64(p), let n = UInt64(q) { return m < n ? -1 : 1 }
            if let m = Double(p), let n = Double(q), m != n { return m < n ? -1 : 1 }
            return p < q ? -1 : 1
        }
        return 0
    }

    static func compareText(_ x: String, _ op: ComparisonOperator, _ y: String) -> Truth {
        switch op {
        case .equal: return x == y ? .yes : .no
        case .notEqual: return x != y ? .yes : .no
        default:
            let order = versionOrder(x, y)
            switch op {
            case .less: return order < 0 ? .yes : .no
            case .lessEqual: return order <= 0 ? .yes : .no
            case .greater: return order > 0 ? .yes : .no
            default: return order >= 0 ? .yes : .no
            }
        }
    }

    func truth(_ index: Int32, _ obs: borrowing DeviceObservations, _ time: Int64) -> Truth {
        let node = nodes[Int(index)]
        switch node.kind {
        case .and:
            var result = Truth.yes
            for i in Int(node.b)..<Int(node.b + node.c) {
                switch truth(lists[i], obs, time) {
                case .no: return .no
                case .unknown: result = .unknown
                case .yes: break
                }
            }
            return result
        case .or:
            var result = Truth.no
            for i in Int(node.b)..<Int(node.b + node.c) {
                switch truth(lists[i], obs, time) {
                case .yes: return .yes
                case .unknown: result = .unknown
                case .no: break
                }
            }
            return result
        case .not:
            switch truth(node.a, obs, time) {
            case .yes: return .no
            case .no: return .yes
            case .unknown: return .unknown
            }
        case .compareNumber:
            return Evaluator.compare(number(node.a, obs, time), node.op, number(node.b, obs, time))
        case .compareText:
            guard let x = text(node.a, obs, time), let y = text(node.b, obs, time) else { return .unknown }
            return Evaluator.compareText(x, node.op, y)
        case .between:
            let v = number(node.a, obs, time)
            let low = number(node.b, obs, time)
            let high = number(node.c, obs, time)
            if v.isNaN || low.isNaN || high.isNaN { return .unknown }
            if node.aux != 0 && low > high { return v >= low || v <= high ? .yes : .no }
            return v >= low && v <= high ? .yes : .no
        case .memberNumber:
            let v = number(node.a, obs, time)
            if v.isNaN { return .unknown }
            var result = Truth.no
            for i in Int(node.b)..<Int(node.b + node.c) {
                let item = number(lists[i], obs, time)
                if item.isNaN { result = .unknown } else if item == v { return .yes }
            }
            return result
        case .memberText:
            guard let v = text(node.a, obs, time) else { return .unknown }
            var result = Truth.no
            for i in Int(node.b)..<Int(node.b + node.c) {
                guard let item = text(lists[i], obs, time) else {
                    result = .unknown
                    continue
                }
                if item == v { return .yes }
            }
            return result
        case .contains:
            guard let v = text(node.a, obs, time) else { return .unknown }
            return v.contains(strings[Int(node.b)]) ? .yes : .no
        case .alert:
            guard let alerts = obs.alerts else { return .unknown }
            let type = strings[Int(node.b)]
            for episode in alerts where episode.isOpen(at: time) && episode.type == type {
                return .yes
            }
            return .no
        case .absent:
            return obs.hasReported(slot: Int(node.a), at: time) ? .no : .yes
        default:
            return .unknown
        }
    }

    func number(_ index: Int32, _ obs: borrowing DeviceObservations, _ time: Int64) -> Double {
        let node = nodes[Int(index)]
        switch node.kind {
        case .constant: return node.number
        case .field: return obs.number(slot: Int(node.a), at: time) ?? .nan
        case .battery:
            if node.a >= 0, let v = obs.number(slot: Int(node.a), at: time) { return v }
            return obs.batteryLevel ?? .nan
        case .silence:
            guard let base = obs.silenceBase(at: time) else { return .nan }
            return Double(time) - Double(base)
        case .hour:
            return Double(localSeconds(time) % 86400 / 3600)
        case .weekday:
            // 1970-01-01 was a Thursday (index 3, Monday being 0).
            let days = localSeconds(time) / 86400
            return Double((days + 3) % 7)
        case .window:
            let function = WindowFunction.allCases[Int(node.aux)]
            return obs.window(function, slot: Int(node.a), seconds: Int64(node.number), to: time)
        case .add: return number(node.a, obs, time) + number(node.b, obs, time)
        case .subtract: return number(node.a, obs, time) - number(node.b, obs, time)
        case .multiply: return number(node.a, obs, time) * number(node.b, obs, time)
        case .divide:
            let d = number(node.b, obs, time)
            return d == 0 ? .nan : number(node.a, obs, time) / d
        case .negate: return -number(node.a, obs, time)
        default: return .nan
        }
    }

    /// Seconds since the epoch in the rule file's time zone, never negative (floored into a valid day).
    private func localSeconds(_ time: Int64) -> Int64 {
        var offset: Int64 = 0
        if let timezone {
            offset = Int64(timezone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(time))))
        }
        let local = time &+ offset
        let day: Int64 = 86400 * 7
        let r = local % day
        return r < 0 ? r + day : r
    }

    func text(_ index: Int32, _ obs: borrowing DeviceObservations, _ time: Int64) -> String? {
        let node = nodes[Int(index)]
        switch node.kind {
        case .constantText: return strings[Int(node.b)]
        case .fieldText: return obs.text(slot: Int(node.a), at: time)
        case .status:
            if let assumedStatus { return assumedStatus }
            if obs.status == nil { statusQueried?.pointee = true }
            return obs.status
        case .group: return obs.group
        case .firmware: return obs.firmware
        case .model: return model
        case .kind: return kind
        default:
            let v = number(index, obs, time)
            return v.isNaN ? nil : formatNumber(v)
        }
    }
}
