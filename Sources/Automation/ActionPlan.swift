import Foundation
import Rules
import Store
import ThingseeAPI

/// One rule action turned into what the action log records and what the executor carries out.
struct PlannedAction: Sendable {
    var intent: ActionIntent
    var action: Rules.Action

    /// Whether an API call must follow the intent (live, not skipped, not a log line).
    var needsCall: Bool { intent.outcome == nil && !intent.dryRun && intent.kind != .log }
}

enum ActionPlan {
    /// The log's `parameters` JSON for an action; reconciliation reads it back.
    static func parameters(_ action: Rules.Action) -> (ActionKind, JSONValue) {
        switch action {
        case .moveTo(let status):
            return (.move, ["status": .string(status)])
        case .sendCommand(let tsmId, let parameters):
            var o: [String: JSONValue] = ["tsmId": .number(Double(tsmId))]
            for p in parameters { o[p.name] = .number(p.value) }
            return (.send, .object(o))
        case .assignGroup(let group):
            return (.assign, ["group": .string(group)])
        case .log(let text):
            return (.log, ["text": .string(text)])
        case .notify(let target):
            // Webhook delivery is not wired into the scheduler yet: record it, never pretend it was sent.
            return (.log, ["text": .string("notify \(target): not delivered (webhook delivery is not in this build)")])
        }
    }

    /// Intents for a firing. `move to` and `assign group` that are already true are recorded as skipped;
    /// dry runs and shadow rules record would-be actions; `send` gets a fresh transaction id.
    static func plan(
        _ firing: Firing, dryRun: Bool, currentStatus: String?, currentGroup: String?
    ) -> [PlannedAction] {
        let logAsDryRun = dryRun || firing.shadow
        return firing.actions.enumerated().map { index, action in
            let (kind, parameters) = self.parameters(action)
            var outcome: ActionOutcome?
            var note: String?
            switch action {
            case .moveTo(let status) where status == currentStatus:
                outcome = logAsDryRun ? "would-skip" : .skipped
                note = "already \(status)"
            case .assignGroup(let group) where group == currentGroup:
                outcome = logAsDryRun ? "would-skip" : .skipped
                note = "already in group \(group)"
            default:
                break
            }
            let transactionID: Int64? = kind == .send ? Int64(ThingseeAPI.Command.randomTransactionID()) : nil
            let intent = ActionIntent(
                time: firing.time, rule: firing.rule, tuid: firing.tuid, sequence: Int64(firing.sequence),
                actionIndex: index, kind: kind, parameters: parameters.description, dryRun: logAsDryRun,
                transactionID: transactionID, outcome: outcome, error: note)
            return PlannedAction(intent: intent, action: action)
        }
    }
}

/// Carries out logged intents against the API and reconciles intents left open by a crash.
struct ActionExecutor: Sendable {
    let client: ThingseeClient

    struct Result: Sendable {
        var outcome: ActionOutcome
        var httpStatus: Int?
        var error: String?
    }

    /// Performs one action. Never throws: a failure is an outcome to log.
    func perform(kind: ActionKind, tuid: String, parameters: JSONValue, transactionID: Int64?) async -> Result {
        do {
            switch kind {
            case .move:
                guard let name = parameters["status"]?.stringValue, let status = InstallationStatus(rawValue: name)
                else { return Result(outcome: .failed, error: "no valid status in the logged parameters") }
                _ = try await client.setInstallationStatus(tuid, status)
            case .assign:
                guard let group = parameters["group"]?.stringValue else {
                    return Result(outcome: .failed, error: "no group in the logged parameters")
                }
                _ = try await client.assignGroup(tuid, to: group)
            case .send:
                guard let tsmId = parameters["tsmId"]?.intValue, let transactionID else {
                    return Result(outcome: .failed, error: "no command id or transaction id in the logged parameters")
                }
                let values = (parameters.objectValue ?? [:]).filter { $0.key != "tsmId" }
                    .sorted { $0.key < $1.key }
                    .compactMap { key, value in value.doubleValue.map { (name: key, value: $0) } }
                _ = try await client.sendCommands(
                    tuid, [Command(tsmId: tsmId, transactionId: Int(transactionID), parameters: values)])
            default:
                return Result(outcome: .done)
            }
            return Result(outcome: .done, httpStatus: 200)
        } catch let error as ThingseeError {
            return Result(outcome: .failed, httpStatus: error.status, error: error.description)
        } catch {
            return Result(outcome: .failed, error: String(describing: error))
        }
    }

    /// Whether an intent's effect is already visible at the API: the command's transaction id in the device's
    /// command history, the device already in the status or group. Throws when the API cannot tell.
    func alreadyApplied(_ record: ActionRecord, parameters: JSONValue) async throws -> Bool {
        switch record.kind {
        case .send:
            guard let tx = record.transactionID else { return false }
            return try await client.commandHistory(record.tuid).contains { $0.transactionId.map(Int64.init) == tx }
        case .move:
            let current = try await client.installations(record.tuid).first?.installationStatus
            return current != nil && current == parameters["status"]?.stringValue
        case .assign:
            guard let group = parameters["group"]?.stringValue else { return false }
            return try await client.groupThings(group).tuids.contains(record.tuid)
        default:
            return true
        }
    }
}
