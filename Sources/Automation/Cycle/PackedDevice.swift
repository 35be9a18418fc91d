import Rules

/// A device as the scheduler holds it between its turns: its snapshot in the layout of its saved row, and its rule
/// states in the compact layout of `RuleState.write(to:)`.
///
/// Decoded, a device's snapshot and rule states are some twenty small arrays, each an allocation of its own: about
/// 3.4 KB a device, most of the scheduler's memory (heaptrack, 5,000 devices). Nothing reads them between the
/// device's turns, so the scheduler keeps them packed, one buffer each, and decodes a device only for its turn
/// (``unpackedSnapshot``, ``unpackedStates(rules:)``); what is saved of a changed device is its packed snapshot as it is.
struct PackedDevice: Sendable, Equatable {
    /// `DeviceSnapshot.bytes`; empty for a device with no snapshot yet.
    var snapshot: [UInt8] = []
    /// The rule states in the rules' order, each in the layout of `RuleState.write(to:)` after their count; empty
    /// for a device whose rules are all in their initial state.
    var states: [UInt8] = []
    /// The snapshot's cursor, saved beside the row.
    var cursor: Int64?
    /// The rules (by index) whose state is `firing`: the firing gauge counts these without decoding anything.
    var firing: [Int] = []

    init() {}

    init(snapshot: DeviceSnapshot?, states: [RuleState]?) {
        if let snapshot { hold(snapshot.bytes, cursor: snapshot.cursor) }
        if let states { pack(states) }
    }

    /// Replaces the snapshot with `bytes` (`DeviceSnapshot.bytes`, or a saved row's) and its cursor.
    mutating func hold(_ bytes: [UInt8], cursor: Int64?) {
        snapshot = Self.compact(bytes)
        self.cursor = cursor
    }

    /// Replaces the rule states.
    mutating func pack(_ list: [RuleState]) {
        var writer = StateWriter(capacity: 16 + 64 * list.count)
        writer.count(list.count)
        for state in list { state.write(to: &writer) }
        states = Self.compact(writer.bytes)
        firing = list.indices.filter { list[$0].phase == .firing }
    }

    /// `bytes` in a buffer of their own size. A writer reserves room ahead (an estimate, then doubling): held for
    /// a whole fleet, what it reserved and did not use was a third of the packed devices' memory.
    static func compact(_ bytes: [UInt8]) -> [UInt8] {
        bytes.capacity > bytes.count + 32 ? Array(bytes[...]) : bytes
    }

    /// The snapshot: a fresh one when there is none, or when the bytes do not decode (the device then starts
    /// afresh, as with a saved row that does not decode).
    var unpackedSnapshot: DeviceSnapshot {
        snapshot.isEmpty ? DeviceSnapshot() : DeviceSnapshot(bytes: snapshot) ?? DeviceSnapshot()
    }

    /// The rule states, `rules` of them: the initial states when none are held, or when what is held is not that
    /// many (never expected: a reload repacks every device for its new rules).
    func unpackedStates(rules: Int) -> [RuleState] {
        guard !states.isEmpty,
            let list = try? StateReader.read(states, { reader -> [RuleState] in
                let n = try reader.count(itemSize: 9)
                var list: [RuleState] = []
                list.reserveCapacity(n)
                for _ in 0..<n { list.append(try RuleState(reading: &reader)) }
                guard reader.isAtEnd else { throw StateBytesError("rule states: bytes after the last") }
                return list
            }), list.count == rules
        else { return Array(repeating: RuleState(), count: rules) }
        return list
    }
}
