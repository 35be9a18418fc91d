import Foundation
import Rules
import Store

/// Reads the scheduler's saved per-device state back from the database's rows.
enum SavedState {
    /// Each device's snapshot; rows that do not decode are left out (the device then starts afresh).
    static func snapshots(_ rows: [DeviceRow]) -> [String: DeviceSnapshot] {
        let decoder = JSONDecoder()
        var snapshots: [String: DeviceSnapshot] = [:]
        for row in rows {
            if let data = row.observations, let snapshot = DeviceSnapshot(row: data, decoder: decoder) {
                snapshots[row.tuid] = snapshot
            }
        }
        return snapshots
    }

    /// Each device's rule states in `engine`'s rule order; a rule without a row has the initial state, and rows of
    /// rules no longer loaded are ignored.
    static func ruleStates(_ rows: [RuleStateRow], engine: Engine) -> [String: [RuleState]] {
        let decoder = JSONDecoder()
        var byDevice: [String: [RuleState]] = [:]
        for row in rows {
            guard let index = engine.ruleSet.index(of: row.rule),
                let state = RuleState(jsonRow: row.state, decoder: decoder)
            else { continue }
            var list = byDevice[row.tuid] ?? engine.initialStates()
            list[index] = state
            byDevice[row.tuid] = list
        }
        return byDevice
    }
}

/// Builds the scheduler's packed devices (``PackedDevice``) from the saved rows, one row at a time as a store
/// folds them (`Store.foldDevices`, then `Store.foldRuleStates`): at start, the rows of a large fleet read all at
/// once were the largest thing the scheduler held (100,000 devices: about 300 MB for a moment).
struct StateLoader: Sendable {
    let engine: Engine
    /// Only these devices (with leases: those just acquired); nil for all.
    let only: Set<String>?
    private(set) var packed: [String: PackedDevice] = [:]
    /// The device whose rule-state rows are being read, and its states so far.
    private var current: (tuid: String, states: [RuleState])?
    private let decoder = JSONDecoder()

    init(engine: Engine, only: Set<String>? = nil) {
        self.engine = engine
        self.only = only
    }

    /// A device row. One in the binary layout is held as it is (one that does not decode starts its device
    /// afresh at its turn); an older JSON row is decoded and packed; one neither is left out.
    mutating func add(_ row: DeviceRow) {
        guard only?.contains(row.tuid) ?? true, let data = row.observations else { return }
        if data.starts(with: DeviceSnapshot.mark) {
            packed[row.tuid, default: PackedDevice()].hold(Array(data), cursor: row.cursorTs)
        } else if let snapshot = DeviceSnapshot(row: data, decoder: decoder) {
            packed[row.tuid, default: PackedDevice()].hold(snapshot.bytes, cursor: snapshot.cursor)
        }
    }

    /// A rule-state row, in device order: a device's states are packed when the next device's rows begin, so only
    /// one device is held decoded. A rule without a row has the initial state; rows of rules no longer loaded,
    /// and rows that do not decode, are ignored.
    mutating func add(_ row: RuleStateRow) {
        guard only?.contains(row.tuid) ?? true else { return }
        if current?.tuid != row.tuid {
            flush()
            // Rows out of device order (not expected) join what the device already has.
            let held = packed[row.tuid].map { $0.unpackedStates(rules: engine.rules.count) }
            current = (row.tuid, held ?? engine.initialStates())
        }
        guard let rule = engine.ruleSet.index(of: row.rule),
            let state = RuleState(jsonRow: row.state, decoder: decoder)
        else { return }
        current?.states[rule] = state
    }

    /// The packed devices, once every row was added.
    mutating func finish() -> [String: PackedDevice] {
        flush()
        // Given up, not shared: the caller's first change would otherwise copy the whole table.
        defer { packed = [:] }
        return packed
    }

    private mutating func flush() {
        guard let current else { return }
        self.current = nil
        guard current.states != engine.initialStates() || packed[current.tuid] != nil else { return }
        packed[current.tuid, default: PackedDevice()].pack(current.states)
    }
}
