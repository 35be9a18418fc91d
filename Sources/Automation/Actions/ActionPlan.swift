import Foundation
import Rules
import Store
import ThingseeAPI

/// One rule action turned into what the action log records and what the runner carries out.
struct PlannedAction: Sendable {
    var intent: ActionIntent
    var call: ActionCall
    /// The rule's action, for what people read.
    var action: Rules.Action

    /// Whether a call must follow the intent (live, not skipped, not a log line).
    var needsCall: Bool { intent.outcome == nil && !intent.dryRun && call.kind != .log }
}

/// Pure: a firing and what is known of the device → the intents to log. No I/O.
enum ActionPlan {
    /// The typed call for a rule action of `firing`; `key` is the action's firing key.
    static func call(_ action: Rules.Action, of firing: Firing, key: String) -> ActionCall {
        switch action {
        case .moveTo(let status): .move(status: status)
        case .sendCommand(let tsmId, let parameters):
            .send(tsmId: tsmId, parameters: parameters.map { .init(name: $0.name, value: $0.value) })
        case .assignGroup(let group): .assign(group: group)
        case .log(let text): .log(text: text)
        case .notify(let target): .notify(target: target, body: notification(firing, key: key))
        }
    }

    /// The webhook body: `{"rule", "severity", "tuid", "state", "at", "values", "key"}`.
    static func notification(_ firing: Firing, key: String) -> String {
        let object: [String: Any] = [
            "rule": firing.rule, "severity": firing.severity?.rawValue ?? NSNull(), "tuid": firing.tuid,
            "state": firing.transition == .resolved ? "resolved" : "firing",
            "at": ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(firing.time))),
            "values": firing.values, "key": key,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Why the rule fired, for the log's `why` column: the values the condition read, as JSON.
    static func why(_ firing: Firing) -> String? {
        guard !firing.values.isEmpty,
            let data = try? JSONSerialization.data(withJSONObject: firing.values, options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Intents for a firing. `move to` and `assign group` that are already true are recorded as skipped;
    /// dry runs and shadow rules record would-be actions; `send` gets a fresh transaction id from `transactionID`.
    static func plan(
        _ firing: Firing, dryRun: Bool, currentStatus: String?, currentGroup: String?,
        transactionID: () -> Int64 = { Int64(ThingseeAPI.Command.randomTransactionID()) }
    ) -> [PlannedAction] {
        let logAsDryRun = dryRun || firing.shadow
        let resolved = firing.transition == .resolved
        let why = self.why(firing)
        return firing.actions.enumerated().map { index, action in
            let key = FiringKey(
                rule: firing.rule, tuid: firing.tuid, sequence: Int64(firing.sequence), actionIndex: index,
                dryRun: logAsDryRun, resolved: resolved)
            let call = self.call(action, of: firing, key: key.description)
            var outcome: ActionOutcome?
            var note: String?
            switch call {
            case .move(let status) where status == currentStatus:
                outcome = logAsDryRun ? "would-skip" : .skipped
                note = "already \(status)"
            case .assign(let group) where group == currentGroup:
                outcome = logAsDryRun ? "would-skip" : .skipped
                note = "already in group \(group)"
            default:
                break
            }
            let intent = ActionIntent(
                time: firing.time, rule: firing.rule, tuid: firing.tuid, sequence: Int64(firing.sequence),
                actionIndex: index, resolved: resolved, call: call, dryRun: logAsDryRun,
                transactionID: call.kind == .send ? transactionID() : nil, outcome: outcome, error: note, why: why,
                severity: firing.severity?.rawValue)
            return PlannedAction(intent: intent, call: call, action: action)
        }
    }
}
