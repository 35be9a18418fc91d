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
