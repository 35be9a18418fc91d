import Foundation
import Rules
import Store
import ThingseeAPI

/// A live `send` awaiting its device's `tsmEv` 31 echo.
struct PendingCommand: Sendable {
    var actionID: Int64
    var tsmId: Int
    var transactionID: Int64
    var asked: [ActionCall.Parameter]
}

/// An echo that proves a pending command took effect.
struct Confirmation: Sendable, Equatable {
    var actionID: Int64
    /// Device time of the echo.
    var at: Int64
    /// JSON text: the values the echo carried and, where the device clamped them, what was asked and what it set.
    var values: String
}

/// One device's evaluation: pure, no I/O, no clock — the scheduler hands it what was fetched and "now".
///
/// Matches echoes to pending commands, then runs the engine over the new messages. What comes out is decided; the
/// scheduler only writes it and carries it out.
struct DeviceStep: Sendable {
    let engine: Engine
    let conversion: MessageConversion

    struct Input: Sendable {
        var tuid: String
        var group: String?
        var snapshot: DeviceSnapshot
        var states: [RuleState]
        var pending: [PendingCommand]
        /// Messages not seen before, as the poller returned them.
        var fresh: [ThingseeAPI.Message]
        var now: Int64
        /// No message older than this will come in a later step: `DeviceSnapshot.admit` drops those as stale
        /// (`DeviceSnapshot.admissionFloor`). Nil when the device has no cursor yet.
        var reportsFrom: Int64? = nil
    }

    struct Output: Sendable {
        var snapshot: DeviceSnapshot
        var states: [RuleState]
        var confirmations: [Confirmation]
        /// The firings of this evaluation, grouped by rule in rule order: each group commits with its rule's state.
        var firingsByRule: [(rule: Int, firings: [Firing])]
        /// A condition reached a `status` test while the status was unknown: with it, the outcome may differ.
        var statusQueried = false
    }

    func run(_ input: Input) -> Output {
        var snapshot = input.snapshot
        if snapshot.observations.group == nil || input.group != nil {
            snapshot.observations.group = input.group ?? input.fresh.last?.deploymentGroupId
        }
        let confirmations = input.fresh.compactMap { Self.confirmation(of: $0, pending: input.pending) }
        var states = input.states
        var statusQueried = false
        let firings = engine.evaluate(
            tuid: input.tuid, observations: &snapshot.observations, newMessages: input.fresh.map(conversion.convert),
            states: &states, now: input.now, statusQueried: &statusQueried, messagesAreUnique: true,
            reportsFrom: input.reportsFrom)
        var byRule: [Int: [Firing]] = [:]
        for firing in firings {
            guard let index = engine.ruleSet.index(of: firing.rule) else { continue }
            byRule[index, default: []].append(firing)
        }
        return Output(
            snapshot: snapshot, states: states, confirmations: confirmations,
            firingsByRule: byRule.keys.sorted().map { ($0, byRule[$0]!) }, statusQueried: statusQueried)
    }

    /// Runs the step without the installation status, for a device whose status is due: the status costs a request
    /// per device, and most devices' conditions are decided by their messages alone (`temp > 8 and status is
    /// installed` needs the status only while warm). Returns nil when that run shows the status matters; then the
    /// caller reads it into the input's snapshot and runs the step again (`run`), as `Scheduler.process` does. A non-nil result is the one a run
    /// with the status from the start gives (`Engine.evaluate(…statusQueried:)`); the status held before (stale, or
    /// none) stays in its snapshot, still due next time.
    func runWithoutStatus(_ input: Input) -> Output? {
        var trial = input
        trial.snapshot.observations.status = nil
        var output = run(trial)
        // A firing of a rule that reads the status may show it (`log "{status}"`) or move the device (a dry run
        // decides "already in that status" from it): run it with the status.
        let showsStatus = output.firingsByRule.contains { engine.rules[$0.rule].needs.readsStatus }
        if output.statusQueried || showsStatus { return nil }
        output.snapshot.observations.status = input.snapshot.observations.status
        return output
    }

    /// The confirmation `message` brings, if it is the echo of a pending command.
    static func confirmation(of message: ThingseeAPI.Message, pending: [PendingCommand]) -> Confirmation? {
        guard message.tsmEv == 31, let tx = message.transactionId,
            let command = pending.first(where: { $0.transactionID == Int64(tx) && $0.tsmId == message.tsmId })
        else { return nil }
        var differs: [String: JSONValue] = [:]
        for asked in command.asked where message.property(asked.name)?.doubleValue != asked.value {
            differs[asked.name] = ["asked": .number(asked.value), "got": message.property(asked.name) ?? .null]
        }
        var values: [String: JSONValue] = ["values": .object(message.properties)]
        if !differs.isEmpty { values["differs"] = .object(differs) }
        return Confirmation(actionID: command.actionID, at: message.tsmTs, values: JSONValue.object(values).description)
    }
}
