import Foundation

// A rule state row is JSON (the `rule_state.state` column), read by people and tools (`sqlite3`, the reliability
// harness), so it stays JSON. But every changed state is written each cycle and every state read at start, and
// through `JSONEncoder`/`JSONDecoder` those two were a fifth of a steady 10,000-device cycle's CPU. The layout is
// small and fixed, so it is written here by hand, with the same keys as `encode(to:)`; reading takes the same
// shape back directly, and anything else (an older or hand-edited row) goes through `init(from:)`.
extension RuleState {
    /// The state as its JSON row: what `JSONEncoder` writes for it, keys in a fixed order.
    public var jsonRow: Data {
        var out: [UInt8] = []
        out.reserveCapacity(160 + 28 * (changes.count + clearChanges.count + reports.count))
        func key(_ name: StaticString) {
            out.append(out.count == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func number<T: BinaryInteger>(_ value: T) { out.append(contentsOf: String(value).utf8) }
        func field(_ name: StaticString, _ value: Int64?) {
            guard let value else { return }
            key(name)
            number(value)
        }
        func list(_ name: StaticString, _ changes: [TruthChange]) {
            key(name)
            out.append(UInt8(ascii: "["))
            for (i, change) in changes.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: #"{"time":"#.utf8)
                number(change.time)
                out.append(contentsOf: #","truth":"#.utf8)
                number(change.truth.rawValue)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        key("phase")
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: phase.rawValue.utf8)
        out.append(UInt8(ascii: "\""))
        field("phaseSince", phaseSince)
        field("holdingSince", holdingSince)
        field("trackedUntil", trackedUntil)
        field("trackedTruth", trackedTruth.map { Int64($0.rawValue) })
        field("reportsInARow", Int64(reportsInARow))
        field("firedAt", firedAt)
        field("emittedAt", emittedAt)
        field("sequence", Int64(sequence))
        field("repeatsDone", Int64(repeatsDone))
        field("resolvedAt", resolvedAt)
        list("changes", changes)
        list("clearChanges", clearChanges)
        list("reports", reports)
        out.append(UInt8(ascii: "}"))
        return Data(out)
    }

    /// Reads a JSON row: the shape `jsonRow` writes directly, any other through `init(from:)`; nil when it is not
    /// a rule state at all.
    public init?(jsonRow data: Data, decoder: JSONDecoder) {
        if let state = data.withUnsafeBytes({ raw in
            var reader = RowReader(bytes: raw.bindMemory(to: UInt8.self))
            return reader.state()
        }) {
            self = state
        } else if let state = try? decoder.decode(RuleState.self, from: data) {
            self = state
        } else {
            return nil
        }
    }
}

/// Reads exactly the shape `RuleState.jsonRow` writes (integers, the phase's name, lists of time/truth objects);
/// nil at anything else, which the caller then decodes the general way.
private struct RowReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func skipSpace() {
        while index < bytes.count,
            bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D
                || bytes[index] == 0x09
        {
            index += 1
        }
    }

    mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// A string without escapes (keys and phase names never have any).
    mutating func plainString() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            if bytes[index] == UInt8(ascii: "\\") { return nil }
            index += 1
        }
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    mutating func integer() -> Int64? {
        skipSpace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var value: Int64 = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
            index += 1
        }
        // A fraction or an exponent is not what `jsonRow` writes.
        guard index > start, index == bytes.count || !".eE".utf8.contains(bytes[index]) else { return nil }
        return negative ? -value : value
    }

    mutating func changes() -> [TruthChange]? {
        guard take(UInt8(ascii: "[")) else { return nil }
        var list: [TruthChange] = []
        if take(UInt8(ascii: "]")) { return list }
        repeat {
            guard take(UInt8(ascii: "{")) else { return nil }
            var time: Int64?
            var truth: Truth?
            repeat {
                guard let name = plainString(), take(UInt8(ascii: ":")), let value = integer() else { return nil }
                if name == "time" {
                    time = value
                } else if name == "truth", let t = UInt8(exactly: value).flatMap(Truth.init) {
                    truth = t
                } else {
                    return nil
                }
            } while take(UInt8(ascii: ","))
            guard take(UInt8(ascii: "}")), let time, let truth else { return nil }
            list.append(TruthChange(time: time, truth: truth))
        } while take(UInt8(ascii: ","))
        return take(UInt8(ascii: "]")) ? list : nil
    }

    mutating func state() -> RuleState? {
        guard take(UInt8(ascii: "{")) else { return nil }
        var state = RuleState()
        if take(UInt8(ascii: "}")) { return finished(state) }
        repeat {
            guard let name = plainString(), take(UInt8(ascii: ":")) else { return nil }
            switch name {
            case "phase":
                guard let text = plainString(), let phase = RuleState.Phase(rawValue: text) else { return nil }
                state.phase = phase
            case "changes": guard let list = changes() else { return nil }; state.changes = list
            case "clearChanges": guard let list = changes() else { return nil }; state.clearChanges = list
            case "reports": guard let list = changes() else { return nil }; state.reports = list
            case let other:
                guard let value = integer() else { return nil }
                switch other {
                case "phaseSince": state.phaseSince = value
                case "holdingSince": state.holdingSince = value
                case "trackedUntil": state.trackedUntil = value
                case "trackedTruth":
                    guard let truth = UInt8(exactly: value).flatMap(Truth.init) else { return nil }
                    state.trackedTruth = truth
                case "reportsInARow": state.reportsInARow = Int(value)
                case "firedAt": state.firedAt = value
                case "emittedAt": state.emittedAt = value
                case "sequence": state.sequence = Int(value)
                case "repeatsDone": state.repeatsDone = Int(value)
                case "resolvedAt": state.resolvedAt = value
                default: return nil
                }
            }
        } while take(UInt8(ascii: ","))
        guard take(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        return index == bytes.count ? finished(state) : nil
    }

    /// What `init(from:)` does last, too.
    private func finished(_ state: RuleState) -> RuleState {
        var state = state
        state.completeChangesOfAnOlderRow()
        return state
    }
}
