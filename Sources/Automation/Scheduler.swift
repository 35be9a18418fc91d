import Foundation
import Rules
import Store
import ThingseeAPI

/// `tsee run`: polls the fleet, evaluates the rules, carries out their actions exactly once, and logs them.
///
/// Each cycle: reconcile intents a crash left open (first cycle only); refresh the device list when stale; for each
/// device in scope (up to `concurrency` at once) fetch new messages and, when stale and needed, alerts,
/// installation status and thing info; evaluate; write each firing's intents together with the device's rule
/// state and cursor in one transaction; then call the API and complete the intents. A device whose poll failed is
/// left as it was: an outage never looks like a device problem.
public actor Scheduler {
    public let client: ThingseeClient
    public let engine: Engine
    public let store: Store
    public let options: SchedulerOptions
    private let report: @Sendable (String) -> Void
    private let conversion: MessageConversion
    private let executor: ActionExecutor
    private let poller: DevicePoller

    /// Device → group, from the groups the rules' scopes need.
    private var directory: [String: String] = [:]
    private var directoryFetchedAt: Int64?
    private var snapshots: [String: DeviceSnapshot] = [:]
    private var states: [String: [RuleState]] = [:]
    private var loaded = false
    private var reconciled = false
    private var cycles = 0
    private var stopRequested = false

    /// - Parameter report: receives one line per cycle and one per error (stderr in `tsee run`).
    public init(
        client: ThingseeClient, engine: Engine, store: Store, options: SchedulerOptions,
        report: @escaping @Sendable (String) -> Void
    ) {
        self.client = client
        self.engine = engine
        self.store = store
        self.options = options
        self.report = report
        self.conversion = MessageConversion(needs: engine.ruleSet.needs)
        self.executor = ActionExecutor(client: client)
        self.poller = DevicePoller(client: client, options: options)
    }

    /// Asks a running `run()` to stop after the cycle in flight.
    public func requestStop() {
        stopRequested = true
    }

    /// Runs cycles every `interval` until `requestStop()`; the cycle in flight is always finished.
    public func run() async {
        while !stopRequested {
            let started = ContinuousClock.now
            _ = await runCycle()
            let next = started + .milliseconds(Int(options.interval * 1000))
            while !stopRequested, ContinuousClock.now < next {
                try? await Task.sleep(for: min(.milliseconds(200), next - ContinuousClock.now))
            }
        }
    }

    // MARK: - One cycle

    /// One cycle; never throws (errors are counted and reported).
    public func runCycle() async -> CycleReport {
        cycles += 1
        var summary = CycleReport()
        summary.number = cycles
        summary.dryRun = options.dryRun
        let clock = ContinuousClock.now
        let requestsBefore = client.metrics.requests

        let cycleID = try? await store.beginCycle(startedAt: client.serverNow(), dryRun: options.dryRun)
        do {
            try await loadStateIfNeeded()
            if !reconciled && !options.dryRun {
                summary.errors += await reconcile()
                reconciled = true
            }
            try await refreshDirectoryIfStale()
        } catch {
            summary.errors += 1
            note(error, &summary, context: "device list")
        }

        let devices = devicesInScope()
        summary.devices = devices.count
        let pending = await pendingConfirmations()

        var outcomes: [DeviceOutcome] = []
        await withTaskGroup(of: DeviceOutcome.self) { group in
            var iterator = devices.makeIterator()
            var running = 0
            func addNext() {
                guard let tuid = iterator.next() else { return }
                let job = DeviceJob(
                    tuid: tuid, group: directory[tuid], snapshot: snapshots[tuid] ?? DeviceSnapshot(),
                    states: states[tuid] ?? engine.initialStates(), pending: pending[tuid] ?? [])
                running += 1
                group.addTask { await self.process(job) }
            }
            for _ in 0..<max(1, options.concurrency) { addNext() }
            while let outcome = await group.next() {
                running -= 1
                outcomes.append(outcome)
                addNext()
            }
        }

        var rows: [RuleStateRow] = []
        var deviceRows: [DeviceRow] = []
        for outcome in outcomes {
            summary.newMessages += outcome.newMessages
            summary.firings += outcome.firings
            summary.actions += outcome.actions
            summary.confirmed += outcome.confirmed
            summary.errors += outcome.errors.count
            for line in outcome.errors { report("tsee run: \(outcome.tuid): \(line)") }
            if outcome.authenticationFailed { summary.authenticationFailed = true }
            if outcome.pollFailed {
                summary.failedDevices += 1
                continue
            }
            // Only what changed is written: in a steady cycle most devices have nothing new, and most rules
            // stay inactive (a missing row reads back as the initial state).
            let previous = states[outcome.tuid]
            let changed = outcome.states.indices.filter { i in
                outcome.states[i] != (previous.map { $0[i] } ?? RuleState())
            }
            rows += stateRows(outcome.tuid, outcome.states, only: changed)
            if outcome.snapshot != snapshots[outcome.tuid] {
                deviceRows.append(deviceRow(outcome.tuid, outcome.snapshot))
            }
            snapshots[outcome.tuid] = outcome.snapshot
            states[outcome.tuid] = outcome.states
            if let group = outcome.group { directory[outcome.tuid] = group }
        }
        do {
            try await store.saveState(ruleStates: rows, devices: deviceRows)
        } catch {
            summary.errors += 1
            report("tsee run: saving rule state: \(error)")
        }
        summary.errors += await expireConfirmations()

        let elapsed = ContinuousClock.now - clock
        summary.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        summary.requests = client.metrics.requests - requestsBefore
        if let cycleID {
            try? await store.finishCycle(
                id: cycleID,
                summary: CycleSummary(
                    finishedAt: client.serverNow(), devices: summary.devices, messages: summary.newMessages,
                    firings: summary.firings, actions: summary.actions, errors: summary.errors,
                    durationMilliseconds: Int64(summary.seconds * 1000)))
        }
        report("tsee run: " + summary.line)
        return summary
    }

    private func note(_ error: any Error, _ summary: inout CycleReport, context: String) {
        if case .authentication = error as? ThingseeError { summary.authenticationFailed = true }
        report("tsee run: \(context): \(error)")
    }

    // MARK: - State

    private func loadStateIfNeeded() async throws {
        guard !loaded else { return }
        snapshots = SavedState.snapshots(try await store.devices(dryRun: options.dryRun))
        states = SavedState.ruleStates(try await store.ruleStates(dryRun: options.dryRun), engine: engine)
        loaded = true
    }

    /// Rows for a device's rule states: all of them, or only the rules at `indices`.
    nonisolated private func stateRows(_ tuid: String, _ states: [RuleState], only indices: [Int]? = nil)
        -> [RuleStateRow]
    {
        let encoder = JSONEncoder()
        return (indices ?? Array(states.indices)).compactMap { i in
            guard let data = try? encoder.encode(states[i]) else { return nil }
            return RuleStateRow(rule: engine.rules[i].name, tuid: tuid, dryRun: options.dryRun, state: data)
        }
    }

    nonisolated private func deviceRow(_ tuid: String, _ snapshot: DeviceSnapshot) -> DeviceRow {
        DeviceRow(
            tuid: tuid, dryRun: options.dryRun, cursorTs: snapshot.cursor,
            observations: try? JSONEncoder().encode(snapshot))
    }

    // MARK: - Discovery

    private var needsEveryGroup: Bool {
        engine.rules.contains { $0.mode != .off && $0.groups.isEmpty && $0.tuids.isEmpty }
    }

    private func refreshDirectoryIfStale() async throws {
        let now = client.serverNow()
        if let at = directoryFetchedAt, now - at < options.refresh, !directory.isEmpty { return }
        var groups = Set(engine.rules.filter { $0.mode != .off }.flatMap(\.groups))
        if needsEveryGroup {
            groups.formUnion(try await client.groups().map(\.groupId))
            groups.insert("unassigned")
        }
        var found: [String: String] = [:]
        let client = self.client
        let report = self.report
        try await withThrowingTaskGroup(of: (String, [String]).self) { tasks in
            for group in groups {
                tasks.addTask {
                    do {
                        return (group, try await client.groupThings(group).tuids)
                    } catch let error as ThingseeError where error.status == 404 {
                        report("tsee run: group `\(group)` does not exist; rules scoped to it match no device")
                        return (group, [])
                    }
                }
            }
            for try await (group, tuids) in tasks {
                for tuid in tuids { found[tuid] = group }
            }
        }
        directory = found
        directoryFetchedAt = client.serverNow()
    }

    private func devicesInScope() -> [String] {
        var all = Set(directory.keys)
        for rule in engine.rules where rule.mode != .off { all.formUnion(rule.tuids) }
        return all.filter { tuid in
            engine.rules.contains { $0.mode != .off && $0.isInScope(tuid: tuid, group: directory[tuid]) != false }
        }.sorted()
    }

    // MARK: - Confirmations

    struct PendingCommand: Sendable {
        var id: Int64
        var tsmId: Int
        var transactionID: Int64
        var asked: [String: JSONValue]
    }

    private func pendingConfirmations() async -> [String: [PendingCommand]] {
        guard !options.dryRun, let records = try? await store.pendingConfirmations() else { return [:] }
        var byDevice: [String: [PendingCommand]] = [:]
        for record in records {
            guard let tx = record.transactionID,
                let parameters = try? JSONValue.parse(Data(record.parameters.utf8)),
                let tsmId = parameters["tsmId"]?.intValue
            else { continue }
            var asked = parameters.objectValue ?? [:]
            asked.removeValue(forKey: "tsmId")
            byDevice[record.tuid, default: []].append(
                PendingCommand(id: record.id, tsmId: tsmId, transactionID: tx, asked: asked))
        }
        return byDevice
    }

    /// Marks sends whose echo is overdue as unconfirmed. Returns the number of errors.
    private func expireConfirmations() async -> Int {
        guard !options.dryRun, let records = try? await store.pendingConfirmations() else { return 0 }
        let now = client.serverNow()
        var errors = 0
        for record in records where now - record.time > options.confirmTimeout {
            do {
                try await store.markUnconfirmed(id: record.id)
                report(
                    "tsee run: \(record.tuid): \(record.rule): no echo of transaction \(record.transactionID ?? 0) "
                        + "within \(options.confirmTimeout / 60) min; marked unconfirmed")
            } catch {
                errors += 1
            }
        }
        return errors
    }

    // MARK: - Reconciliation

    /// Completes or carries out every live intent a crash left open. Returns the number of errors.
    private func reconcile() async -> Int {
        guard let open = try? await store.openIntents(), !open.isEmpty else { return 0 }
        report("tsee run: reconciling \(open.count) action(s) left open by an earlier run")
        var errors = 0
        for record in open {
            let parameters = (try? JSONValue.parse(Data(record.parameters.utf8))) ?? .object([:])
            do {
                if try await executor.alreadyApplied(record, parameters: parameters) {
                    try await store.complete(
                        id: record.id, outcome: .done, error: "reconciled: already applied before the restart")
                    continue
                }
                let result = await executor.perform(
                    kind: record.kind, tuid: record.tuid, parameters: parameters, transactionID: record.transactionID)
                try await store.complete(
                    id: record.id, outcome: result.outcome, httpStatus: result.httpStatus, error: result.error)
                if result.outcome == .failed { errors += 1 }
            } catch {
                // The API could not tell whether it was applied: leave it open for the next start.
                errors += 1
                report("tsee run: \(record.tuid): could not reconcile action \(record.id): \(error)")
            }
        }
        return errors
    }

    // MARK: - One device

    struct DeviceJob: Sendable {
        var tuid: String
        var group: String?
        var snapshot: DeviceSnapshot
        var states: [RuleState]
        var pending: [PendingCommand]
    }

    struct DeviceOutcome: Sendable {
        var tuid: String
        var snapshot: DeviceSnapshot
        var states: [RuleState]
        var group: String?
        var newMessages = 0
        var firings = 0
        var actions = 0
        var confirmed = 0
        var errors: [String] = []
        var pollFailed = false
        var authenticationFailed = false
    }

    nonisolated private func process(_ job: DeviceJob) async -> DeviceOutcome {
        var outcome = DeviceOutcome(tuid: job.tuid, snapshot: job.snapshot, states: job.states, group: job.group)
        var snapshot = job.snapshot
        let tuid = job.tuid

        // Fetch. Any failure leaves the device exactly as it was.
        let fresh: [ThingseeAPI.Message]
        do {
            fresh = try await poller.poll(
                tuid, needs: DevicePoller.needs(of: engine, tuid: tuid, group: job.group), into: &snapshot)
        } catch {
            outcome.pollFailed = true
            if case .authentication = error as? ThingseeError { outcome.authenticationFailed = true }
            outcome.errors.append("poll failed, device left unknown this cycle: \(error)")
            return outcome
        }
        if snapshot.observations.group == nil || job.group != nil {
            snapshot.observations.group = job.group ?? fresh.last?.deploymentGroupId
        }
        outcome.newMessages = fresh.count

        // Echoes of commands sent earlier.
        for message in fresh where message.tsmEv == 31 {
            guard let tx = message.transactionId,
                let command = job.pending.first(where: { $0.transactionID == Int64(tx) && $0.tsmId == message.tsmId })
            else { continue }
            var differs: [String: JSONValue] = [:]
            for (name, asked) in command.asked where message.properties[name]?.doubleValue != asked.doubleValue {
                differs[name] = ["asked": asked, "got": message.properties[name] ?? .null]
            }
            var values: [String: JSONValue] = ["values": .object(message.properties)]
            if !differs.isEmpty { values["differs"] = .object(differs) }
            if (try? await store.confirm(
                id: command.id, at: message.tsmTs, values: JSONValue.object(values).description))
                == true
            {
                outcome.confirmed += 1
            }
        }

        // Evaluate.
        var states = job.states
        let now = client.serverNow()
        let firings = engine.evaluate(
            tuid: tuid, observations: &snapshot.observations, newMessages: fresh.map(conversion.convert),
            states: &states, now: now)
        outcome.firings = firings.count
        outcome.snapshot = snapshot
        outcome.states = states
        guard !firings.isEmpty else { return outcome }

        // Act: intents with the state change in one transaction, then the calls.
        var status = snapshot.observations.status
        var group = job.group
        for firing in firings {
            let touchesStatus = firing.actions.contains { if case .moveTo = $0 { true } else { false } }
            if touchesStatus, !snapshot.observations.pollFailed,
                let current = try? await client.installations(tuid).first?.installationStatus
            {
                status = current
            }
            let planned = ActionPlan.plan(firing, dryRun: options.dryRun, currentStatus: status, currentGroup: group)
            let ids: [Int64]
            do {
                ids = try await store.recordIntents(
                    planned.map(\.intent), ruleStates: stateRows(tuid, states), devices: [deviceRow(tuid, snapshot)])
            } catch {
                outcome.errors.append("could not log the actions of \(firing.rule); none carried out: \(error)")
                continue
            }
            outcome.actions += planned.count
            for (plan, id) in zip(planned, ids) where plan.needsCall {
                // A replayed firing key returns the id of an action already logged: do not act twice.
                if let existing = try? await store.action(id: id), existing.outcome != .intent { continue }
                let parameters = (try? JSONValue.parse(Data(plan.intent.parameters.utf8))) ?? .object([:])
                let result = await executor.perform(
                    kind: plan.intent.kind, tuid: tuid, parameters: parameters,
                    transactionID: plan.intent.transactionID)
                do {
                    try await store.complete(
                        id: id, outcome: result.outcome, httpStatus: result.httpStatus, error: result.error)
                } catch {
                    outcome.errors.append("could not complete action \(id) in the log: \(error)")
                }
                if result.outcome == .failed {
                    outcome.errors.append("\(firing.rule): \(plan.action) failed: \(result.error ?? "unknown error")")
                    continue
                }
                switch plan.action {
                case .moveTo(let s):
                    status = s
                    snapshot.observations.status = s
                case .assignGroup(let g):
                    group = g
                    snapshot.observations.group = g
                default: break
                }
            }
        }
        outcome.snapshot = snapshot
        outcome.group = group
        return outcome
    }
}
