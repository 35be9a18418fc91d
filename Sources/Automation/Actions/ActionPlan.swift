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
    /// The typed call for a rule action.
    static func call(_ action: Rules.Action) -> ActionCall {
        switch action {
        case .moveTo(let status): .move(status: status)
        case .sendCommand(let tsmId, let parameters):
            .send(tsmId: tsmId, parameters: parameters.map { .init(name: $0.name, value: $0.value) })
        case .assignGroup(let group): .assign(group: group)
        case .log(let text): .log(text: text)
        }
    }

    /// Intents for a firing. `move to` and `assign group` that are already true are recorded as skipped;
    /// dry runs and shadow rules record would-be actions; `send` gets a fresh transaction id from `transactionID`.
    static func plan(
        _ firing: Firing, dryRun: Bool, currentStatus: String?, currentGroup: String?,
        transactionID: () -> Int64 = { Int64(ThingseeAPI.Command.randomTransactionID()) }
    ) -> [PlannedAction] {
        let logAsDryRun = dryRun || firing.shadow
        return firing.actions.enumerated().map { index, action in
            let call = self.call(action)
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
                actionIndex: index, call: call, dryRun: logAsDryRun,
                transactionID: call.kind == .send ? transactionID() : nil, outcome: outcome, error: note)
            return PlannedAction(intent: intent, call: call, action: action)
        }
    }
}
