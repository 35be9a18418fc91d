import Foundation
import Logging
import Rules
import Synchronization
import Store
import Stream
import ThingseeAPI

/// `tsee run`: polls the fleet, evaluates the rules, carries out their actions exactly once, and logs them.
///
/// Each cycle: reconcile live intents left open (by a crash, or by a write whose answer was lost); refresh the device
/// list when stale; for each device in scope (up to `concurrency` at once) poll, run the pure ``DeviceStep``, then,
/// for each rule that fired, write its intents together with **that rule's** state in one transaction, and only then
/// call the API and complete the intents. Everything else that changed (other rules' states, cursors) is written
/// once at the end of the cycle. A device whose poll failed is left as it was: an outage never looks like a device
/// problem. A device whose firing could not be written keeps its cursor, so the next cycle sees the same messages
/// and the firing happens then, under the same firing key.
public actor Scheduler {
    public let client: ThingseeClient
    /// The rules in force; replaced by ``reload(_:)``.
    public nonisolated var engine: Engine { rulebook.withLock { $0.engine } }
    public let store: any Store
    public let options: SchedulerOptions
    private let clock: SchedulerClock
    let apiTime: any APITime
    let logger: Logger
    let rulebook: Mutex<Rulebook>
    private let runner: ActionRunner
    let poller: DevicePoller
    let metrics = SchedulerMetrics()
    private let observer: (@Sendable (CycleReport) -> Void)?
    /// Sharing the fleet with other processes on one database; `nil`: this process evaluates every device.
    private let leases: LeaseSettings?
    /// The data integration stream, with `--mqtt`: see `Scheduler+Stream.swift`.
    let stream: StreamSource?
    /// With leases, the devices held at the last cycle: stream steps evaluate only these (another process owns
    /// the rest and backfills their messages itself).
    var heldDevices: Set<String>?
    /// With leases: until when, on ``clock``, this process's leases certainly last (see ``leaseAllowsActing()``).
    private let leaseDeadline = Mutex<Duration?>(nil)

    /// Device → group, from the groups the rules' scopes need.
    var directory: [String: String] = [:]
    private var directoryFetchedAt: Int64?
    /// Every device's snapshot and rule states, packed between its turns (``PackedDevice``).
    var packed: [String: PackedDevice] = [:]
    private var loaded = false
    private var cycles = 0
    private var stopRequested = false
    private var wait: Task<Void, Never>?
    /// The wait of ``gatherStream(until:)``: ended by a stop, not by `wake()`.
    private var gatherWait: Task<Void, Never>?
    private var fleetAlertsOffered = true
    /// What the stream's steps did since the last cycle: reported with the next cycle.
    var streamTally = CycleReport()
    /// The stream generation whose backfill cycle was last run early (on its `connected`).
    var backfillTried: Int?
    /// Changed in memory, not yet written: see ``absorb(_:into:log:deferSaving:)``.
    var unsaved = Unsaved()
    var lastSave: Duration = .zero

    public init(
        client: ThingseeClient, engine: Engine, store: any Store, options: SchedulerOptions,
        clock: SchedulerClock = .continuous, apiTime: (any APITime)? = nil,
        logger: Logger = Logger(label: "tsee.scheduler"), stream: StreamSource? = nil,
        observer: (@Sendable (CycleReport) -> Void)? = nil, webhooks: WebhookResolver? = nil,
        leases: LeaseSettings? = nil
    ) {
        self.observer = observer
        self.stream = stream
        self.leases = leases
        self.client = client
        self.store = store
        self.options = options
        self.clock = clock
        let apiTime = apiTime ?? ClientAPITime(client)
        self.apiTime = apiTime
        self.logger = logger
        self.rulebook = Mutex(Rulebook(engine))
        self.runner = ActionRunner(
            client: client,
            webhook: Webhook(resolve: webhooks ?? Webhook.environmentResolver(), timeout: .seconds(30)))
        self.poller = DevicePoller(client: client, apiTime: apiTime, options: options)
    }

    /// How a continuous run ended.
    public enum Ending: Sendable, Equatable {
        /// `requestStop()`: the cycle in flight was finished.
        case stopped
        /// This many cycles in a row could not log in (credentials refused): a supervisor should notice.
        case authenticationRefused(cycles: Int)
    }

    /// Asks a running `run()` to stop after the cycle in flight.
    public func requestStop() {
        stopRequested = true
        wait?.cancel()
        gatherWait?.cancel()
    }

    /// Runs cycles every `interval` until `requestStop()`, or until `maxAuthFailures` cycles in a row had their
    /// login refused. The cycle in flight is always finished.
    ///
    /// With a stream, between cycles: a (re)connection runs a backfill cycle at once, and messages that count are
    /// evaluated as they arrive, one stream step at a time (see `Scheduler+Stream.swift`). Cycles and steps never
    /// overlap, so each device's state has one writer.
    public func run() async -> Ending {
        var refusedInARow = 0
        await startStream()
        var nextCycle = clock.now
        while !stopRequested {
            stream?.looking()
            let backfill = backfillDue()
            if clock.now >= nextCycle || backfill != nil {
                if let backfill { backfillTried = backfill }
                let started = clock.now
                let report = await runCycle()
                refusedInARow = report.authenticationFailed ? refusedInARow + 1 : 0
                if options.maxAuthFailures > 0, refusedInARow >= options.maxAuthFailures {
                    logger.critical(
                        "authentication refused; giving up",
                        metadata: ["cycles": "\(refusedInARow)", "event": "auth-give-up"])
                    await stream?.stop()
                    await saveUnsaved(logger)
                    await releaseLeases()
                    return .authenticationRefused(cycles: refusedInARow)
                }
                nextCycle = started + options.intervalDuration
                continue
            }
            if let batch = stream?.take(), !batch.isEmpty {
                await runStreamStep(batch)
                await gatherStream(until: nextCycle)
                continue
            }
            let remaining = nextCycle - clock.now
            guard !stopRequested, remaining > .zero else { continue }
            let clock = self.clock
            let sleeping = Task { _ = try? await clock.sleep(for: remaining) }
            wait = sleeping
            // Woken early by the stream (`wake()`) or by `requestStop()`.
            if !(stream?.hasWork ?? false) && backfillDue() == nil { await sleeping.value }
            sleeping.cancel()
            wait = nil
        }
        await stopStream()
        await releaseLeases()
        return .stopped
    }

    /// After a stream step, lets the stream's next messages gather for `streamGather` (not past the next cycle,
    /// and cut short by a stop but not by the stream's arrivals): at a thousand messages a second, a step per
    /// arrival cost two and a half times the CPU per message of steps that share their fixed cost.
    private func gatherStream(until nextCycle: Duration) async {
        let gather = min(options.streamGather, nextCycle - clock.now)
        guard gather > .zero, !stopRequested else { return }
        let clock = self.clock
        let gathering = Task { _ = try? await clock.sleep(for: gather) }
        gatherWait = gathering
        await gathering.value
        gatherWait = nil
    }

    /// A clean stop gives the devices back at once, rather than after a lease length.
    private func releaseLeases() async {
        guard let leases else { return }
        do {
            try await store.releaseLeases(owner: leases.owner)
        } catch {
            logger.error("could not release the device leases", metadata: ["error": "\(error)"])
        }
    }

    /// The stream has something to do: ends the wait between cycles.
    func wake() {
        wait?.cancel()
    }

    // MARK: - Reload

    /// What a reload changed.
    public struct Reload: Sendable, Equatable {
        public var added: [String] = []
        public var removed: [String] = []
        public var kept: [String] = []
        /// Firings of removed rules that were still open, closed in the log.
        public var closedFirings = 0
    }

    /// Replaces the rules from the next cycle on (SIGHUP). Each rule keeps its per-device state by name — so its
    /// firing sequence, and with it the uniqueness of firing keys, carries on; a removed rule's open firings are
    /// closed in the action log with a `log` row saying so.
    public func reload(_ newEngine: Engine) async -> Reload {
        // Unsaved rule states are known by their index in the old rules: written before the indices change.
        await saveUnsaved(logger)
        let old = engine
        var change = Reload()
        let oldNames = Set(old.rules.map(\.name))
        let newNames = Set(newEngine.rules.map(\.name))
        change.added = newEngine.rules.map(\.name).filter { !oldNames.contains($0) }
        change.removed = old.rules.map(\.name).filter { !newNames.contains($0) }
        change.kept = newEngine.rules.map(\.name).filter { oldNames.contains($0) }
        var closing: [ActionIntent] = []
        let now = apiTime.now()
        for (tuid, device) in packed {
            let list = device.unpackedStates(rules: old.rules.count)
            var mapped = newEngine.initialStates()
            for (i, rule) in newEngine.rules.enumerated() {
                if let j = old.ruleSet.index(of: rule.name), j < list.count { mapped[i] = list[j] }
            }
            for name in change.removed {
                guard let j = old.ruleSet.index(of: name), j < list.count, list[j].phase == .firing else { continue }
                closing.append(
                    ActionIntent(
                        time: now, rule: name, tuid: tuid, kind: .log,
                        parameters: ActionCall.log(text: "rule removed by a reload while firing").parametersJSON,
                        dryRun: options.dryRun, firingKey: "\(name)|\(tuid)|\(list[j].sequence)|removed|\(options.dryRun ? 1 : 0)"))
            }
            packed[tuid]?.pack(mapped)
        }
        if !closing.isEmpty {
            do {
                try await store.recordIntents(closing)
                change.closedFirings = closing.count
            } catch {
                logger.error("could not close the removed rules' firings in the log", metadata: ["error": "\(error)"])
            }
        }
        rulebook.withLock { $0 = Rulebook(newEngine) }
        directoryFetchedAt = nil
        return change
    }

    // MARK: - One cycle

    /// One cycle; never throws (errors are counted and logged).
    public func runCycle() async -> CycleReport {
        cycles += 1
        var summary = CycleReport()
        summary.number = cycles
        summary.dryRun = options.dryRun
        let started = clock.now
        let requestsBefore = client.metrics.requests
        let log = logger.with(["cycle": "\(cycles)"])

        // What the stream steps left unsaved is written first: this cycle may give devices up to other processes,
        // which read their state from the database.
        if !unsaved.isEmpty, !(await saveUnsaved(log)) { summary.errors += 1 }
        let cycleID = try? await store.beginCycle(startedAt: apiTime.now(), dryRun: options.dryRun)
        let progress = Progress(clock: clock, client: client)
        let collected = Collected()
        // With the stream up and backfilled, messages are not polled; otherwise this cycle polls them, and when the
        // stream is up it is the backfill of the stream's gap. A shared subscription brings this process only its
        // share of each device's messages: the cycles poll the rest (from the cursor less the overlap, so a
        // message the stream brought first counts once).
        let streamLive = stream?.isLive ?? false
        let backfilling = streamLive ? nil : stream?.generationToBackfill
        summary.stream = stream.map { _ in streamLive ? "live" : backfilling != nil ? "backfilling" : "down" }
        let pollsMessages = !streamLive || stream?.isShared == true
        let work = Task {
            await self.cycleWork(log: log, progress: progress, collected: collected, pollsMessages: pollsMessages)
        }
        let outcomes: [DeviceOutcome]
        if let done = await Self.watch(work, progress: progress, clock: clock, stallTimeout: options.stallTimeout) {
            summary.merge(done.summary)
            outcomes = done.outcomes
        } else {
            // Abandoned: what finished counts; the devices still in flight are cancelled and count as failed polls
            // (an intent they wrote stays open and is reconciled next cycle).
            work.cancel()
            let finished = collected.close()
            let done = Set(finished.map(\.tuid))
            let abandoned = collected.devices.filter { !done.contains($0) }
            summary.errors += 1
            summary.stalled = true
            log.error(
                "cycle abandoned: no progress",
                metadata: [
                    "event": "stalled", "seconds": "\(options.stallTimeout.components.seconds)",
                    "abandoned": "\(abandoned.count)",
                ])
            summary.devices = collected.devices.count
            outcomes = finished + abandoned.map(DeviceOutcome.init(abandoned:))
            if collected.devices.isEmpty { summary.nothingPolled = true }
        }

        await absorb(outcomes, into: &summary, log: log)
        if summary.devices > 0, summary.failedDevices == summary.devices { summary.nothingPolled = true }
        if let backfilling, summary.failedDevices == 0, !summary.stalled, !summary.nothingPolled {
            stream?.backfilled(generation: backfilling)
        }
        summary.include(streamTally)
        streamTally = CycleReport()
        summary.errors += await expireConfirmations(log)
        if !options.dryRun, let open = try? await store.actions(filter: ActionFilter(dryRun: false, unconfirmedOnly: true)) {
            metrics.unconfirmed(open.count)
        }
        metrics.firing(packed, rules: engine.rules)

        let duration = clock.now - started
        summary.seconds = duration.seconds
        metrics.cycle(summary, duration: duration)
        summary.requests = client.metrics.requests - requestsBefore
        if let cycleID {
            try? await store.finishCycle(
                id: cycleID,
                summary: CycleSummary(
                    finishedAt: apiTime.now(), devices: summary.devices, messages: summary.newMessages,
                    firings: summary.firings, actions: summary.actions, errors: summary.errors,
                    durationMilliseconds: Int64(summary.seconds * 1000)))
        }
        log.notice(
            "cycle finished",
            metadata: [
                "event": "cycle", "devices": "\(summary.devices)", "messages": "\(summary.newMessages)",
                "poll_messages": "\(summary.pollMessages)", "stream_messages": "\(summary.streamMessages)",
                "stream": "\(summary.stream ?? "off")",
                "firings": "\(summary.firings)", "actions": "\(summary.actions)", "errors": "\(summary.errors)",
                "requests": "\(summary.requests)", "seconds": "\(String(format: "%.2f", summary.seconds))",
                "summary": "\(summary.line)",
            ])
        observer?(summary)
        return summary
    }

    /// Folds device outcomes into the summary and the scheduler's state, and saves what changed: after a cycle at
    /// once (with whatever stream steps left unsaved), after a stream step when a save is due.
    ///
    /// Deferring a stream step's save is safe for exactly-once: a firing's intents and its rule's state are written
    /// in their own transaction before any action (``act(_:_:_:log:)``), and what waits here — the other rules'
    /// states, the device's observations and cursor — only ever lags behind in the database. A process killed
    /// before the save reads those devices' messages again from their older saved cursors, as it does after a
    /// cycle cut short; a firing already written is not written or carried out again (its firing key), and the
    /// cursor saved never passes a message whose firing was not written. Before the devices' leases can change
    /// (each cycle), before a reload and at a stop, everything is saved.
    func absorb(
        _ outcomes: [DeviceOutcome], into summary: inout CycleReport, log: Logger, deferSaving: Bool = false
    ) async {
        for outcome in outcomes {
            summary.newMessages += outcome.newMessages
            switch outcome.source {
            case .poll: summary.pollMessages += outcome.newMessages
            case .stream: summary.streamMessages += outcome.newMessages
            }
            summary.firings += outcome.firings
            summary.actions += outcome.actions
            summary.confirmed += outcome.confirmed
            summary.outcomeUnknown += outcome.outcomeUnknown
            summary.heldBack += outcome.heldBack
            summary.skippedItems += outcome.skippedItems
            summary.wouldBe += outcome.wouldBe
            summary.errors += outcome.errors
            if outcome.authenticationFailed { summary.authenticationFailed = true }
            if outcome.pollFailed {
                summary.failedDevices += 1
                continue
            }
            // Only what changed is written: in a steady cycle most devices have nothing new, and most rules
            // stay inactive (a missing row reads back as the initial state).
            precondition(outcome.isPacked, "an outcome is packed before it is absorbed")
            if !outcome.changedRules.isEmpty { unsaved.mark(outcome.tuid, rules: outcome.changedRules) }
            if outcome.snapshotChanged { unsaved.devices.insert(outcome.tuid) }
            if let device = outcome.packed { packed[outcome.tuid] = device }
            if let group = outcome.group { directory[outcome.tuid] = group }
        }
        if deferSaving {
            await saveUnsavedIfDue(log)
        } else if !(await saveUnsaved(log)) {
            // In memory the cycle stands; on a restart the devices are polled again from the saved cursors.
            summary.errors += 1
        }
    }

    /// Rule states and devices changed in memory and not yet written, by device (rules by index).
    struct Unsaved: Sendable {
        /// Rule indices by device, each list without repeats. A list, not a set: a set is an allocation of a
        /// hundred bytes and more, for each of a fleet's devices, where a list of the few changed rules is one of
        /// a few dozen.
        var rules: [String: [Int]] = [:]
        var devices: Set<String> = []
        var isEmpty: Bool { rules.isEmpty && devices.isEmpty }

        mutating func merge(_ other: Unsaved) {
            for (tuid, indices) in other.rules { mark(tuid, rules: indices) }
            devices.formUnion(other.devices)
        }

        mutating func mark(_ tuid: String, rules indices: [Int]) {
            if let list = rules[tuid] {
                rules[tuid] = list + indices.filter { !list.contains($0) }
            } else {
                rules[tuid] = indices
            }
        }
    }

    /// A stream step's changes are saved once this many devices wait, or this long after the last save: one
    /// transaction (and one encoding per device) for many steps, rather than one per step of a message or two.
    static let saveBatch = 2_000
    static let saveInterval: Duration = .seconds(1)

    /// Saves what waits, when a save is due (see ``saveBatch``, ``saveInterval``).
    func saveUnsavedIfDue(_ log: Logger) async {
        guard !unsaved.isEmpty else { return }
        guard unsaved.devices.count >= Self.saveBatch || clock.now - lastSave >= Self.saveInterval else { return }
        _ = await saveUnsaved(log)
    }

    /// Writes every rule state and device changed since the last save, as they are in memory now: a transaction
    /// per `saveChunk` devices (``SchedulerOptions``), each device's rule states and snapshot in the same one.
    /// Returns false when a write failed: what it and the chunks after it held stays unsaved, for the next save.
    @discardableResult
    func saveUnsaved(_ log: Logger) async -> Bool {
        lastSave = clock.now
        guard !unsaved.isEmpty else { return true }
        let saving = unsaved
        unsaved = Unsaved()
        let engine = self.engine
        let tuids = Set(saving.rules.keys).union(saving.devices).sorted()
        let size = max(1, options.saveChunk)
        for start in stride(from: 0, to: tuids.count, by: size) {
            let chunk = tuids[start..<min(start + size, tuids.count)]
            var rows: [RuleStateRow] = []
            var devices: [DeviceRow] = []
            for tuid in chunk {
                guard let device = packed[tuid] else { continue }
                if let indices = saving.rules[tuid] {
                    let list = device.unpackedStates(rules: engine.rules.count)
                    rows += stateRows(tuid, list, only: indices.filter { $0 < list.count }.sorted(), engine: engine)
                }
                if saving.devices.contains(tuid), !device.snapshot.isEmpty {
                    devices.append(
                        DeviceRow(
                            tuid: tuid, dryRun: options.dryRun, cursorTs: device.cursor,
                            observations: Data(device.snapshot)))
                }
            }
            do {
                try await store.saveState(ruleStates: rows, devices: devices)
            } catch {
                let rest = Set(tuids[start...])
                var left = Unsaved()
                left.rules = saving.rules.filter { rest.contains($0.key) }
                left.devices = saving.devices.intersection(rest)
                unsaved.merge(left)
                log.error("saving rule state failed", metadata: ["error": "\(error)", "event": "save-failed"])
                return false
            }
        }
        return true
    }

    static func isAuthenticationRefused(_ error: any Error) -> Bool {
        if case .authentication = error as? ThingseeError { return true }
        return false
    }

    // MARK: - The work of a cycle, under the watchdog

    struct CycleWork: Sendable {
        var summary = CycleReport()
        var outcomes: [DeviceOutcome] = []
    }

    /// Reconcile, list, poll and act; the caller merges the outcomes. Abandonable: see ``watch(_:progress:clock:stallTimeout:)``.
    private func cycleWork(log: Logger, progress: Progress, collected: Collected, pollsMessages: Bool) async -> CycleWork {
        var work = CycleWork()
        var listed = true
        runner.webhook.startCycle()
        do {
            try await loadStateIfNeeded()
            // With leases, intents are reconciled once the devices held this cycle are known.
            if !options.dryRun, leases == nil {
                let (errors, reconciled) = await reconcileOpenIntents(log, progress: progress)
                work.summary.errors += errors
                work.summary.reconciled = reconciled
            }
            progress.touch()
            try await refreshDirectoryIfStale(log)
        } catch {
            listed = directoryFetchedAt != nil
            work.summary.errors += 1
            if Self.isAuthenticationRefused(error) { work.summary.authenticationFailed = true }
            log.error("listing devices failed", metadata: ["error": "\(error)", "event": "list-failed"])
        }
        progress.touch()
        var devices = devicesInScope()
        if let leases {
            devices = await holdLeases(devices, leases, log: log)
            if !options.dryRun {
                // The old owner's open intents for devices taken over are settled before the devices are evaluated.
                let (errors, reconciled) = await reconcileOpenIntents(log, progress: progress, only: Set(devices))
                work.summary.errors += errors
                work.summary.reconciled = reconciled
            }
            progress.touch()
        }
        work.summary.devices = devices.count
        let pending = await pendingConfirmations()
        let book = rulebook.withLock { $0 }
        let alerting = devices.isEmpty ? nil : await alertingDevices(book.engine, log: log)
        collected.start(devices)
        let concurrency = max(1, options.concurrency)
        await withTaskGroup(of: DeviceOutcome.self) { group in
            // A device's job is made, and the device unpacked, in its own task when its turn comes: never the
            // whole fleet decoded at once.
            var iterator = devices.makeIterator()
            func next() -> Bool {
                guard let tuid = iterator.next() else { return false }
                let device = packed[tuid]
                let directoryGroup = directory[tuid]
                let commands = pending[tuid] ?? []
                group.addTask {
                    await self.turn(
                        DeviceJob(
                            tuid: tuid, group: directoryGroup, device: device, pending: commands, rulebook: book,
                            alerting: alerting, source: .poll(messages: pollsMessages)),
                        log: log)
                }
                return true
            }
            for _ in 0..<concurrency where next() {}
            while var outcome = await group.next() {
                // The device is held anew at once, not at the cycle's end: a fleet's devices as they were and
                // as they are now are never all held together. What changed is still saved by `absorb`, from
                // the outcome's marks. Once the cycle is abandoned, nothing more is taken.
                let device = outcome.packed
                outcome.packed = nil
                if collected.append(outcome), let device { packed[outcome.tuid] = device }
                progress.touch()
                _ = next()
            }
        }
        work.outcomes = collected.all
        if !listed, devices.isEmpty { work.summary.nothingPolled = true }
        return work
    }

    /// Waits for `work`, or gives up on it when nothing has progressed for `stallTimeout` on `clock`: returns nil
    /// then, without waiting for `work` to notice its cancellation (a request stuck below the client's deadline
    /// must not hold the scheduler).
    private static func watch(
        _ work: Task<CycleWork, Never>, progress: Progress, clock: SchedulerClock, stallTimeout: Duration
    ) async -> CycleWork? {
        let race = Race<CycleWork?>()
        return await withCheckedContinuation { continuation in
            race.start(continuation)
            let watchdog = Task {
                while !race.isFinished {
                    do {
                        try await clock.sleep(for: min(stallTimeout, .seconds(10)))
                    } catch {
                        return
                    }
                    if progress.idle() >= stallTimeout {
                        race.finish(nil)
                        return
                    }
                }
            }
            Task {
                race.finish(await work.value)
                watchdog.cancel()
            }
        }
    }

    // MARK: - Leases

    /// The devices this process holds this cycle: none when the database cannot say (a device is evaluated by its
    /// owner or by nobody). Newly acquired devices have their state read again (their old owner wrote it); devices
    /// given up or lost are forgotten, so that taking one back later reads it again too.
    private func holdLeases(_ devices: [String], _ leases: LeaseSettings, log: Logger) async -> [String] {
        // Read before asking: the database reads its own clock for the new expiry after this instant.
        let asked = clock.now
        do {
            let grant = try await store.holdLeases(
                LeaseRequest(
                    owner: leases.owner, devices: devices, leaseSeconds: leases.seconds, host: leases.host,
                    pid: leases.pid))
            leaseDeadline.withLock { $0 = asked + .seconds(leases.seconds) }
            let held = Set(grant.held)
            heldDevices = held
            packed = packed.filter { held.contains($0.key) }
            if !grant.acquired.isEmpty {
                packed.merge(try await loadPacked(only: Set(grant.acquired))) { $1 }
            }
            if !grant.acquired.isEmpty || !grant.released.isEmpty {
                log.notice(
                    "device leases changed",
                    metadata: [
                        "event": "leases", "held": "\(grant.held.count)", "acquired": "\(grant.acquired.count)",
                        "released": "\(grant.released.count)", "processes": "\(grant.liveOwners)",
                        "share": "\(grant.share)",
                    ])
            }
            return grant.held
        } catch {
            // Read everything again once the database answers: what is in memory may be another owner's by then.
            loaded = false
            heldDevices = []
            log.error("holding device leases failed", metadata: ["error": "\(error)", "event": "lease-failed"])
            return []
        }
    }

    /// Whether this process may still carry out an action on a device it holds: without leases always; with
    /// leases only while they certainly last by this process's own clock, less a margin of a third of a lease for
    /// the request to reach the API.
    ///
    /// The database fences intents: one is written only under a lease held, in the same transaction. The action
    /// itself is carried out after that transaction, over HTTP, and a process cut off from the database in between
    /// (an answer held up, a pause) cannot learn from the database that its lease ran out and that the device's new
    /// owner settled the intent: carrying it out then would do it twice. Its own clock tells it instead: a lease
    /// renewed by a request sent at T lasts at least until T + the lease length on the database's clock, which is
    /// read after T. An action held back stays an open intent, for whoever holds the device next to reconcile.
    nonisolated func leaseAllowsActing() -> Bool {
        guard let leases else { return true }
        guard let deadline = leaseDeadline.withLock({ $0 }) else { return false }
        return clock.now + .seconds(leases.seconds) / 3 < deadline
    }

    // MARK: - State

    func loadStateIfNeeded() async throws {
        guard !loaded else { return }
        packed = [:]
        packed = try await loadPacked()
        loaded = true
    }

    /// The saved devices, or only those in `only`, packed as the scheduler holds them.
    private func loadPacked(only: Set<String>? = nil) async throws -> [String: PackedDevice] {
        let dryRun = options.dryRun
        var loader = try await store.foldDevices(dryRun: dryRun, into: StateLoader(engine: engine, only: only)) {
            $0.add($1)
        }
        var devices = loader.finish()
        // Into a loader of their own: handing the devices' loader to the store and back would copy its table.
        var states = try await store.foldRuleStates(dryRun: dryRun, into: StateLoader(engine: engine, only: only)) {
            $0.add($1)
        }
        for (tuid, device) in states.finish() {
            devices[tuid, default: PackedDevice()].states = device.states
            devices[tuid, default: PackedDevice()].firing = device.firing
        }
        return devices
    }

    /// Rows for a device's rule states: all of them, or only the rules at `indices`.
    nonisolated private func stateRows(
        _ tuid: String, _ states: [RuleState], only indices: [Int]? = nil, engine: Engine? = nil
    ) -> [RuleStateRow] {
        let engine = engine ?? self.engine
        return (indices ?? Array(states.indices)).map { i in
            RuleStateRow(rule: engine.rules[i].name, tuid: tuid, dryRun: options.dryRun, state: states[i].jsonRow)
        }
    }

    // MARK: - Discovery

    /// Who is alerting, in one request (`GET /things/alerts`), when a rule reads alerts; nil when no rule does, or
    /// when the deployment does not offer the call (404/403) or it failed — then each device's alerts are read.
    private func alertingDevices(_ engine: Engine, log: Logger) async -> Set<String>? {
        guard engine.ruleSet.needs.usesAlerts, fleetAlertsOffered else { return nil }
        do {
            return Set(try await client.alertingTUIDs())
        } catch let error as ThingseeError where error.status == 404 || error.status == 403 {
            fleetAlertsOffered = false
            log.notice(
                "the deployment has no fleet-wide alert call; reading each device's alerts",
                metadata: ["event": "fleet-alerts-missing", "error": "\(error)"])
            return nil
        } catch {
            return nil
        }
    }

    private var needsEveryGroup: Bool {
        engine.rules.contains { $0.mode != .off && $0.groups.isEmpty && $0.tuids.isEmpty }
    }

    private func refreshDirectoryIfStale(_ log: Logger) async throws {
        let now = apiTime.now()
        if let at = directoryFetchedAt, now - at < options.refresh, !directory.isEmpty { return }
        var groups = Set(engine.rules.filter { $0.mode != .off }.flatMap(\.groups))
        if needsEveryGroup {
            groups.formUnion(try await client.groups().map(\.groupId))
            groups.insert("unassigned")
        }
        // One group at a time through a plain loop of child tasks that never throw: a failure is returned as a
        // value, so no sibling is cancelled mid-request and every child has ended before the group returns.
        let client = self.client
        let results = await withTaskGroup(of: (String, Result<[String], any Error>).self) { tasks in
            for group in groups {
                tasks.addTask {
                    do {
                        return (group, .success(try await client.groupThings(group).tuids))
                    } catch let error as ThingseeError where error.status == 404 {
                        return (group, .failure(MissingGroup()))
                    } catch {
                        return (group, .failure(error))
                    }
                }
            }
            var all: [(String, Result<[String], any Error>)] = []
            for await result in tasks { all.append(result) }
            return all
        }
        var found: [String: String] = [:]
        for (group, result) in results {
            switch result {
            case .success(let tuids):
                for tuid in tuids { found[tuid] = group }
            case .failure(let error as MissingGroup):
                _ = error
                log.warning(
                    "group does not exist; rules scoped to it match no device",
                    metadata: ["group": "\(group)", "event": "missing-group"])
            case .failure(let error):
                throw error
            }
        }
        directory = found
        directoryFetchedAt = apiTime.now()
    }

    private struct MissingGroup: Error {}

    func devicesInScope() -> [String] {
        let engine = self.engine
        var all = Set(directory.keys)
        for rule in engine.rules where rule.mode != .off { all.formUnion(rule.tuids) }
        return all.filter { isInScope($0, engine) }.sorted()
    }

    /// Whether `tuid` is among ``devicesInScope()``: listed in a group the rules read, or named by a rule, and in
    /// the scope of a rule in force. Asked per device of a stream step, rather than listing the fleet each step.
    func isInScope(_ tuid: String, _ engine: Engine) -> Bool {
        let group = directory[tuid]
        guard group != nil || engine.rules.contains(where: { $0.mode != .off && $0.tuids.contains(tuid) }) else {
            return false
        }
        return engine.rules.contains { $0.mode != .off && $0.isInScope(tuid: tuid, group: group) != false }
    }

    // MARK: - Confirmations

    func pendingConfirmations() async -> [String: [PendingCommand]] {
        guard !options.dryRun, let records = try? await store.pendingConfirmations() else { return [:] }
        var byDevice: [String: [PendingCommand]] = [:]
        for record in records {
            guard let tx = record.transactionID, case .send(let tsmId, let parameters) = record.call else { continue }
            byDevice[record.tuid, default: []].append(
                PendingCommand(actionID: record.id, tsmId: tsmId, transactionID: tx, asked: parameters))
        }
        return byDevice
    }

    /// Marks sends whose echo is overdue as unconfirmed. Returns the number of errors.
    private func expireConfirmations(_ log: Logger) async -> Int {
        guard !options.dryRun, let records = try? await store.pendingConfirmations() else { return 0 }
        let now = apiTime.now()
        var errors = 0
        for record in records where now - record.time > options.confirmTimeout {
            do {
                try await store.markUnconfirmed(id: record.id)
                log.warning(
                    "no echo in time; marked unconfirmed",
                    metadata: [
                        "event": "unconfirmed", "tuid": "\(record.tuid)", "rule": "\(record.rule)",
                        "transaction": "\(record.transactionID ?? 0)", "minutes": "\(options.confirmTimeout / 60)",
                    ])
            } catch {
                errors += 1
            }
        }
        return errors
    }

    // MARK: - Reconciliation

    /// Settles every live intent left open — by a crash, or by a write whose outcome was unknown — against the API:
    /// already applied → done; certainly not applied → carried out now; the API cannot tell → left open for the
    /// next cycle. Runs at the start of every cycle, under the run lock, so no other process has these in flight;
    /// with leases, only for the devices this process holds (`held`), an old owner's intents among them.
    /// Returns the errors and how many intents were settled.
    private func reconcileOpenIntents(_ log: Logger, progress: Progress, only held: Set<String>? = nil) async -> (
        errors: Int, settled: Int
    ) {
        guard let all = try? await store.openIntents() else { return (0, 0) }
        let open = held.map { held in all.filter { held.contains($0.tuid) } } ?? all
        guard !open.isEmpty else { return (0, 0) }
        log.notice("reconciling open actions", metadata: ["event": "reconcile", "count": "\(open.count)"])
        var errors = 0
        var settled = 0
        for record in open {
            // Each settled intent is progress: a long backlog (slow webhooks) is not a stalled cycle.
            defer { progress.touch() }
            let meta: Logger.Metadata = [
                "tuid": "\(record.tuid)", "rule": "\(record.rule)", "action": "\(record.kind.rawValue)",
                "id": "\(record.id)",
            ]
            guard let call = record.call else {
                try? await store.complete(id: record.id, outcome: .failed, error: "the logged parameters are unreadable")
                errors += 1
                continue
            }
            do {
                switch try await runner.reconcile(call, tuid: record.tuid, transactionID: record.transactionID) {
                case .applied:
                    try await store.complete(id: record.id, outcome: .done, error: "reconciled: found applied")
                    settled += 1
                case .notApplied:
                    if case .notify = call, apiTime.now() - record.time > options.notifyTimeout {
                        try await store.complete(
                            id: record.id, outcome: .failed,
                            error: "not delivered within --notify-timeout (\(options.notifyTimeout / 60) min)")
                        errors += 1
                        metrics.action(rule: record.rule, kind: record.kind.rawValue, outcome: "failed")
                        continue
                    }
                    guard leaseAllowsActing() else {
                        log.warning(
                            "the device lease may have run out: not carried out; left open for the device's owner",
                            metadata: meta.merging(["event": "lease-expired"]) { a, _ in a })
                        continue
                    }
                    let result = await runner.perform(
                        call, tuid: record.tuid, transactionID: record.transactionID, key: record.firingKey)
                    metrics.action(rule: record.rule, kind: record.kind.rawValue, outcome: result.label)
                    if try await complete(record.id, result, log: log.with(meta)) { settled += 1 }
                    if case .failed = result { errors += 1 }
                }
            } catch {
                errors += 1
                log.warning(
                    "could not reconcile; left open",
                    metadata: meta.merging(["error": "\(error)", "event": "reconcile-failed"]) { a, _ in a })
            }
        }
        return (errors, settled)
    }

    /// Writes how a call ended. An unknown outcome leaves the intent open. Returns whether the intent was settled.
    nonisolated private func complete(_ id: Int64, _ result: ActionRunner.Result, log: Logger) async throws -> Bool {
        switch result {
        case .done(let status):
            try await store.complete(id: id, outcome: .done, httpStatus: status)
            return true
        case .failed(let status, let error):
            try await store.complete(id: id, outcome: .failed, httpStatus: status, error: error)
            log.error("action failed", metadata: ["error": "\(error)", "event": "action-failed"])
            return true
        case .unknown(let reason):
            log.warning(
                "outcome unknown; left open for reconciliation",
                metadata: ["reason": "\(reason)", "event": "outcome-unknown"])
            return false
        }
    }

    // MARK: - One device

    struct DeviceJob: Sendable {
        var tuid: String
        var group: String?
        /// The device as it was held before its turn: what its outcome is packed against.
        var held: PackedDevice?
        var snapshot: DeviceSnapshot
        var states: [RuleState]
        var pending: [PendingCommand]
        /// The rules this cycle evaluates with (a reload takes effect at the next cycle).
        var rulebook: Rulebook
        /// Devices with an open alert (the fleet-wide call), or nil to read each device's alerts.
        var alerting: Set<String>?
        /// Where the messages come from: a poll (of the messages too, or of the facts alone while the stream is
        /// live), or the stream's messages for this device (then nothing is fetched).
        var source: MessageSource

        /// The job of a device held as `device` (nil: a device not seen before), unpacked.
        init(
            tuid: String, group: String?, device: PackedDevice?, pending: [PendingCommand], rulebook: Rulebook,
            alerting: Set<String>?, source: MessageSource
        ) {
            self.tuid = tuid
            self.group = group
            held = device
            snapshot = device?.unpackedSnapshot ?? DeviceSnapshot()
            states = device?.unpackedStates(rules: rulebook.engine.rules.count) ?? rulebook.engine.initialStates()
            self.pending = pending
            self.rulebook = rulebook
            self.alerting = alerting
            self.source = source
        }
    }

    enum MessageSource: Sendable {
        case poll(messages: Bool)
        case stream([ThingseeAPI.Message])
    }

    struct DeviceOutcome: Sendable {
        var tuid: String
        /// The device as the turn leaves it, decoded: held out of line (``Decoded``), and let go by
        /// ``pack(against:)``.
        var snapshot: DeviceSnapshot {
            get { decoded.snapshot }
            set { decoded.snapshot = newValue }
        }
        var states: [RuleState] {
            get { decoded.states }
            set { decoded.states = newValue }
        }
        private var decoded: Decoded
        var group: String?
        var newMessages = 0
        var firings = 0
        var actions = 0
        var confirmed = 0
        var outcomeUnknown = 0
        var heldBack = 0
        var skippedItems = 0
        var wouldBe: [WouldBeAction] = []
        var errors = 0
        var pollFailed = false
        var authenticationFailed = false
        var source: Source
        /// Stream messages dropped as already counted (seen in a poll or earlier on the stream) or too old.
        var duplicates = 0
        /// A firing could not be written: the device was kept as it was, and its stream messages must be offered
        /// again (a poll reads them again by itself).
        var unwritten = false

        /// Set by ``pack(against:)``: the device as it is to be held from now on (nil: as it was, or already
        /// taken, as a cycle takes it when the outcome arrives), and what of it changed, to be saved.
        var packed: PackedDevice?
        var changedRules: [Int] = []
        var snapshotChanged = false
        /// Whether ``pack(against:)`` ran (or there was nothing to pack): the decoded device is let go by then.
        var isPacked: Bool { decoded.isEmpty }

        enum Source: String, Sendable { case poll, stream }

        /// Nothing changed.
        init(_ job: DeviceJob) {
            tuid = job.tuid
            decoded = Decoded(snapshot: job.snapshot, states: job.states)
            group = job.group
            if case .stream = job.source { source = .stream } else { source = .poll }
        }

        /// A device whose turn was abandoned with its cycle: failed, and packed (nothing of it changes).
        init(abandoned tuid: String) {
            self.tuid = tuid
            decoded = Decoded()
            source = .poll
            pollFailed = true
            errors = 1
        }

        /// Notes what the turn changed against the device as `job` held it, packs the device for holding, and
        /// releases the decoded snapshot and states: outcomes wait for the end of their cycle, a fleet's of them
        /// at once. A failed poll changes nothing.
        mutating func pack(against job: DeviceJob) {
            defer { decoded = Decoded() }
            guard !pollFailed else { return }
            changedRules = states.indices.filter { $0 >= job.states.count || states[$0] != job.states[$0] }
            let bytes = snapshot.bytes
            snapshotChanged = bytes != job.held?.snapshot
            guard snapshotChanged || !changedRules.isEmpty else { return }
            var device = job.held ?? PackedDevice()
            if snapshotChanged { device.hold(bytes, cursor: snapshot.cursor) }
            if !changedRules.isEmpty { device.pack(states) }
            packed = device
        }
    }

    /// A snapshot and rule states held out of line, copied on write: an outcome waits for the end of its cycle with
    /// a fleet's others, and a snapshot inline made each of them three times the size (100,000 devices: 46 MB).
    struct Decoded: Sendable {
        // Mutated only through a reference known to be unique (`storage()`), as the standard library's own
        // copy-on-write types do: no two tasks ever reach the same box's contents while one of them writes.
        private final class Box: @unchecked Sendable {
            var snapshot: DeviceSnapshot
            var states: [RuleState]
            init(_ snapshot: DeviceSnapshot, _ states: [RuleState]) {
                self.snapshot = snapshot
                self.states = states
            }
        }
        private var box: Box?

        /// Nothing held: a fresh snapshot, no states.
        init() {}

        init(snapshot: DeviceSnapshot, states: [RuleState]) { box = Box(snapshot, states) }

        /// Nothing held: made by `init()`, never by a write.
        var isEmpty: Bool { box == nil }

        var snapshot: DeviceSnapshot {
            get { box?.snapshot ?? DeviceSnapshot() }
            set { storage().snapshot = newValue }
        }

        var states: [RuleState] {
            get { box?.states ?? [] }
            set { storage().states = newValue }
        }

        private mutating func storage() -> Box {
            // Asked before any other reference to the box is taken: a bound copy would itself be a second one.
            if isKnownUniquelyReferenced(&box), let box { return box }
            let copy = Box(box?.snapshot ?? DeviceSnapshot(), box?.states ?? [])
            box = copy
            return copy
        }
    }

    /// A cycle's turn of one device: ``process(_:log:statusMatters:)``, its outcome packed.
    nonisolated func turn(_ job: DeviceJob, log: Logger) async -> DeviceOutcome {
        var outcome = await process(job, log: log)
        outcome.pack(against: job)
        return outcome
    }

    /// One device's whole turn: fetch (or take its stream messages), evaluate, act.
    /// - Parameter statusMatters: an evaluation of these very messages without the installation status already
    ///   showed that the status matters (a stream step's), so it is read before the first evaluation.
    nonisolated func process(_ job: DeviceJob, log parent: Logger, statusMatters: Bool = false) async -> DeviceOutcome {
        var outcome = DeviceOutcome(job)
        let tuid = job.tuid

        // Fetch, or take the stream's messages. Any failure leaves the device exactly as it was.
        var polled = job.snapshot
        let fresh: [ThingseeAPI.Message]
        let needs = DevicePoller.needs(of: job.rulebook.engine, tuid: tuid, group: job.group)
        // The installation status is read only when an evaluation without it shows it matters
        // (`DeviceStep.runWithoutStatus`).
        let statusDue: Bool
        switch job.source {
        case .stream(let messages):
            let admission = polled.admit(messages, overlap: options.overlap)
            fresh = admission.fresh
            outcome.duplicates = admission.duplicates + admission.stale
            statusDue = poller.isStatusDue(needs: needs, polled, now: apiTime.now())
        case .poll(let messages):
            do {
                let poll = try await poller.poll(
                    tuid, needs: needs, alerting: job.alerting, messages: messages, lazyStatus: true, into: &polled)
                fresh = poll.messages
                outcome.skippedItems = poll.skipped
                statusDue = poll.statusDue
            } catch {
                outcome.pollFailed = true
                outcome.errors += 1
                outcome.authenticationFailed = Self.isAuthenticationRefused(error)
                Self.deviceLog(parent, outcome).error(
                    "poll failed; device left unknown this cycle", metadata: ["error": "\(error)", "event": "poll-failed"])
                return outcome
            }
        }
        let now = apiTime.now()
        if !statusMatters,
            let result = evaluate(
                job, snapshot: polled, fresh: fresh, into: &outcome, now: now, statusDue: statusDue, log: parent)
        {
            return await act(job, result, outcome, log: parent)
        }
        // The evaluation without the installation status showed it matters: read it, and evaluate with it.
        do {
            try await poller.fetchStatus(tuid, into: &polled)
        } catch {
            // As a failed poll: the device stays as it was; a stream step's messages are offered again.
            outcome.errors += 1
            outcome.authenticationFailed = Self.isAuthenticationRefused(error)
            if outcome.source == .stream { outcome.unwritten = true } else { outcome.pollFailed = true }
            Self.deviceLog(parent, outcome).error(
                "reading the installation status failed; device left unknown this cycle",
                metadata: ["error": "\(error)", "event": "poll-failed"])
            return outcome
        }
        let result = evaluate(job, snapshot: polled, fresh: fresh, into: &outcome, now: now, log: parent)!
        return await act(job, result, outcome, log: parent)
    }

    /// A device's log: its TUID and the source of its messages as metadata. Made only when something is logged
    /// (a copy of the metadata per device costs more than evaluating a message).
    nonisolated static func deviceLog(_ parent: Logger, _ outcome: DeviceOutcome) -> Logger {
        parent.with(["tuid": "\(outcome.tuid)", "source": "\(outcome.source.rawValue)"])
    }

    /// The pure part of a device's turn: runs the step over the messages not seen before, and records the result in
    /// `outcome`. What it decided (firings, confirmations) is carried out by ``act(_:_:_:log:)``.
    ///
    /// With `statusDue` (the rules read the installation status and the one held is stale), the step runs without
    /// the status first; nil, with `outcome` untouched, means that run showed the status matters: read it into the
    /// snapshot and evaluate again (`DeviceStep.runWithoutStatus`).
    nonisolated func evaluate(
        _ job: DeviceJob, snapshot: DeviceSnapshot, fresh: [ThingseeAPI.Message], into outcome: inout DeviceOutcome,
        now: Int64, statusDue: Bool = false, log parent: Logger
    ) -> DeviceStep.Output? {
        // `snapshot` has admitted `fresh`: nothing older than its admission floor comes in a later step.
        let input = DeviceStep.Input(
            tuid: job.tuid, group: job.group, snapshot: snapshot, states: job.states, pending: job.pending,
            fresh: fresh, now: now, reportsFrom: snapshot.admissionFloor(overlap: options.overlap))
        let result: DeviceStep.Output
        if statusDue {
            guard let decided = job.rulebook.step.runWithoutStatus(input) else { return nil }
            result = decided
        } else {
            result = job.rulebook.step.run(input)
        }
        outcome.newMessages = fresh.count
        if parent.logLevel <= .debug {
            let log = Self.deviceLog(parent, outcome)
            for message in fresh {
                log.debug("message", metadata: ["event": "message", "key": "\(message.deduplicationKey)"])
            }
        }
        outcome.snapshot = result.snapshot
        outcome.states = result.states
        return result
    }

    /// Writes the confirmations and firings `evaluate` decided, and carries out the firings' actions.
    nonisolated func act(
        _ job: DeviceJob, _ result: DeviceStep.Output, _ evaluated: DeviceOutcome, log parent: Logger
    ) async -> DeviceOutcome {
        var outcome = evaluated
        guard !result.confirmations.isEmpty || !result.firingsByRule.isEmpty else { return outcome }
        let tuid = job.tuid
        let log = Self.deviceLog(parent, outcome)
        for confirmation in result.confirmations {
            if (try? await store.confirm(id: confirmation.actionID, at: confirmation.at, values: confirmation.values))
                == true
            {
                outcome.confirmed += 1
            }
        }
        guard !result.firingsByRule.isEmpty else { return outcome }

        // Act, one rule at a time: its intents and its state in one transaction, then the calls.
        var committed = job.states
        var unwritten = false
        var status = result.snapshot.observations.status
        let statusJustRead = result.snapshot.statusFetchedAt != job.snapshot.statusFetchedAt
        var group = job.group
        for (rule, firings) in result.firingsByRule {
            outcome.firings += firings.count
            let moves = firings.contains { $0.actions.contains { if case .moveTo = $0 { true } else { false } } }
            // The status read a moment ago for this very evaluation is current enough; otherwise read it now.
            if moves, !options.dryRun, !statusJustRead,
                let current = try? await client.installations(tuid, limit: 1).first?.installationStatus
            {
                status = current
            }
            let planned = firings.flatMap {
                ActionPlan.plan($0, dryRun: options.dryRun, currentStatus: status, currentGroup: group)
            }
            let ids: [Int64]
            do {
                ids = try await store.recordIntents(
                    planned.map(\.intent),
                    ruleStates: stateRows(tuid, result.states, only: [rule], engine: job.rulebook.engine))
                committed[rule] = result.states[rule]
            } catch {
                unwritten = true
                outcome.errors += 1
                log.error(
                    "could not log the firing; nothing carried out, it fires again next cycle",
                    metadata: [
                        "rule": "\(job.rulebook.engine.rules[rule].name)", "error": "\(error)",
                        "event": "firing-unwritten",
                    ])
                continue
            }
            outcome.actions += planned.count
            for plan in planned where plan.intent.dryRun {
                outcome.wouldBe.append(WouldBeAction(rule: plan.intent.rule, tuid: tuid, action: plan.action.description))
            }
            for plan in planned where !plan.needsCall {
                let settled = plan.intent.outcome ?? (plan.intent.dryRun ? .would : .done)
                metrics.action(rule: plan.intent.rule, kind: plan.call.kind.rawValue, outcome: settled.rawValue)
            }
            for (plan, id) in zip(planned, ids) where plan.needsCall {
                // A replayed firing key returns the id of an action already logged: never act twice.
                guard let existing = try? await store.action(id: id), existing.outcome == .intent else { continue }
                let actionLog = log.with(["rule": "\(plan.intent.rule)", "action": "\(plan.call.kind.rawValue)"])
                guard leaseAllowsActing() else {
                    outcome.heldBack += 1
                    actionLog.warning(
                        "the device lease may have run out: not carried out; left open for the device's owner",
                        metadata: ["event": "lease-expired", "id": "\(id)"])
                    continue
                }
                let called = await runner.perform(
                    plan.call, tuid: tuid, transactionID: plan.intent.transactionID, key: plan.intent.firingKey)
                metrics.action(rule: plan.intent.rule, kind: plan.call.kind.rawValue, outcome: called.label)
                do {
                    _ = try await complete(id, called, log: actionLog)
                } catch {
                    outcome.errors += 1
                    actionLog.error(
                        "could not complete the action in the log; it is reconciled next cycle",
                        metadata: ["error": "\(error)", "event": "complete-failed"])
                }
                switch called {
                case .failed:
                    outcome.errors += 1
                    continue
                case .unknown:
                    outcome.outcomeUnknown += 1
                    continue
                case .done:
                    break
                }
                switch plan.call {
                case .move(let s):
                    status = s
                    outcome.snapshot.observations.status = s
                case .assign(let g):
                    group = g
                    outcome.snapshot.observations.group = g
                default: break
                }
            }
        }
        if unwritten {
            outcome.unwritten = true
            // Keep the device where it was, but for the rules whose firings were written: the next cycle reads the
            // same messages again, and the unwritten firing happens then.
            outcome.snapshot = job.snapshot
            outcome.states = committed
        }
        outcome.group = group
        return outcome
    }
}

extension Logger {
    /// A copy with more metadata.
    func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (key, value) in metadata { copy[metadataKey: key] = value }
        return copy
    }
}

/// What the cycle watchdog watches: when a device last finished or a request was last sent.
private final class Progress: Sendable {
    private let clock: SchedulerClock
    private let client: ThingseeClient
    private let last: Mutex<(at: Duration, requests: Int)>

    init(clock: SchedulerClock, client: ThingseeClient) {
        self.clock = clock
        self.client = client
        last = Mutex((clock.now, client.metrics.requests))
    }

    func touch() {
        let now = clock.now
        last.withLock { $0.at = now }
    }

    /// How long nothing has progressed.
    func idle() -> Duration {
        let now = clock.now
        let requests = client.metrics.requests
        return last.withLock { last in
            if requests != last.requests { last = (now, requests) }
            return now - last.at
        }
    }
}

/// The devices of a cycle and the outcomes gathered so far, readable when the cycle is abandoned.
private final class Collected: Sendable {
    private let state = Mutex<(devices: [String], outcomes: [Scheduler.DeviceOutcome], closed: Bool)>(([], [], false))
    func start(_ devices: [String]) {
        state.withLock {
            $0.devices = devices
            $0.outcomes.reserveCapacity(devices.count)
        }
    }
    /// Adds an outcome; false, and nothing added, once the cycle was abandoned (``close()``).
    func append(_ outcome: Scheduler.DeviceOutcome) -> Bool {
        state.withLock {
            guard !$0.closed else { return false }
            $0.outcomes.append(outcome)
            return true
        }
    }
    /// The outcomes gathered, and no more from now on: the cycle is abandoned.
    func close() -> [Scheduler.DeviceOutcome] {
        state.withLock {
            $0.closed = true
            return $0.outcomes
        }
    }
    var devices: [String] { state.withLock { $0.devices } }
    var all: [Scheduler.DeviceOutcome] { state.withLock { $0.outcomes } }
}

/// One continuation resumed by whichever of several tasks finishes first; the others' results are dropped.
private final class Race<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, Never>?, finished: Bool)>((nil, false))

    func start(_ continuation: CheckedContinuation<T, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    func finish(_ value: T) {
        let continuation = state.withLock { s -> CheckedContinuation<T, Never>? in
            guard !s.finished else { return nil }
            s.finished = true
            defer { s.continuation = nil }
            return s.continuation
        }
        continuation?.resume(returning: value)
    }
}

/// The rules in force and the pure step built from them, swapped whole by a reload.
struct Rulebook: Sendable {
    let engine: Engine
    let step: DeviceStep

    init(_ engine: Engine) {
        self.engine = engine
        self.step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
    }
}
