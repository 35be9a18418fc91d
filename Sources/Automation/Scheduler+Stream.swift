import Foundation
import Logging
import ThingseeAPI

/// `tsee run --mqtt`: the stream's side of the scheduler.
///
/// Between cycles, the run loop takes whatever the stream brought while the previous cycle or step ran — every
/// device's messages since, as one batch — and evaluates each device once over its batch (bursts coalesced) in a
/// *stream step*: the same ``DeviceStep``, the same per-rule firing transaction and the same action runner as a
/// cycle, so firing keys and exactly-once are those of the poll path. A step fetches nothing: alerts, status and
/// thing info are the cycles' (on `--refresh`), and so are reconciliation and the expiry of confirmations.
extension Scheduler {
    /// Connects the stream, if there is one; a refusal (unreadable files) is logged, and the run polls.
    func startStream() async {
        guard let stream else { return }
        do {
            try await stream.start(wake: { [weak self] in
                guard let self else { return }
                Task { await self.wake() }
            })
        } catch {
            logger.error(
                "the stream could not be started; polling instead", metadata: ["event": "stream-failed", "error": "\(error)"])
        }
    }

    /// Disconnects, then evaluates what the stream brought and counted but no step took yet: a graceful stop loses
    /// nothing that was handed over (the broker does not deliver it again).
    func stopStream() async {
        guard let stream else { return }
        await stream.stop()
        let rest = stream.drain()
        if !rest.isEmpty { await runStreamStep(rest) }
        await saveUnsaved(logger.with(["source": "stream"]))
    }

    /// The generation of a stream connection whose backfill cycle should run now: the first time it is seen.
    /// Should that cycle fail for some device, the regular cycles (which poll until the backfill succeeds) retry.
    func backfillDue() -> Int? {
        guard let generation = stream?.generationToBackfill, generation != backfillTried else { return nil }
        return generation
    }

    /// A stream device's turn that calls out: carrying out what its evaluation decided, or its whole turn when that
    /// evaluation showed the installation status matters (read first, then evaluated with it).
    enum StreamTurn: Sendable {
        case act(DeviceJob, DeviceStep.Output, DeviceOutcome)
        case whole(DeviceJob)
    }

    nonisolated func take(_ turn: StreamTurn, log: Logger) async -> DeviceOutcome {
        switch turn {
        case .act(let job, let result, let evaluated):
            var outcome = await act(job, result, evaluated, log: log)
            outcome.pack(against: job)
            return outcome
        case .whole(let job):
            var outcome = await process(job, log: log, statusMatters: true)
            outcome.pack(against: job)
            return outcome
        }
    }

    /// Evaluates the stream's messages of each device in `batch`: one stream step.
    ///
    /// What a step costs per message matters (a fleet's whole stream passes through here): devices whose messages
    /// fire nothing and confirm nothing are evaluated inline, on the actor, with no task, request or write of their
    /// own; only the others get a task each (up to `concurrency` at once) to write their firings and act. Their
    /// changed state is saved with the next save that is due (``saveUnsavedIfDue(_:)``).
    func runStreamStep(_ batch: [String: [ThingseeAPI.Message]]) async {
        let log = logger.with(["source": "stream"])
        do {
            try await loadStateIfNeeded()
        } catch {
            stream?.putBack(batch)
            log.error("loading the saved state failed", metadata: ["error": "\(error)", "event": "load-failed"])
            return
        }
        // Pending sends matter only to echoes (`tsmEv` 31): most steps have none, and skip the query.
        let hasEcho = batch.values.contains { $0.contains { $0.tsmEv == 31 } }
        let pending = hasEcho ? await pendingConfirmations() : [:]
        let book = rulebook.withLock { $0 }
        let now = apiTime.now()
        var outside = 0
        var devices = 0
        var outcomes: [DeviceOutcome] = []
        outcomes.reserveCapacity(batch.count)
        var acting: [(DeviceJob, DeviceStep.Output, DeviceOutcome)] = []
        var needStatus: [DeviceJob] = []
        let readsStatus = book.engine.ruleSet.needs.readsStatus
        for (tuid, messages) in batch.sorted(by: { $0.key < $1.key }) {
            // Devices outside the rules' scopes (the stream's topics may be wider), or held by another process
            // sharing the database, are not evaluated: their owner polls their messages (a shared subscription
            // hands each message to one process, not necessarily the owner).
            guard heldDevices?.contains(tuid) ?? true, isInScope(tuid, book.engine) else {
                outside += messages.count
                if heldDevices?.contains(tuid) == false, log.logLevel <= .debug {
                    for message in messages {
                        log.debug(
                            "stream message of a device this process does not hold; its owner polls it",
                            metadata: ["event": "not-held", "key": "\(message.deduplicationKey)"])
                    }
                }
                continue
            }
            devices += 1
            let job = DeviceJob(
                tuid: tuid, group: directory[tuid], device: packed[tuid], pending: pending[tuid] ?? [],
                rulebook: book, alerting: nil, source: .stream(messages))
            var outcome = DeviceOutcome(job)
            var snapshot = job.snapshot
            let admission = snapshot.admit(messages, overlap: options.overlap)
            outcome.duplicates = admission.duplicates + admission.stale
            let statusDue =
                readsStatus
                && poller.isStatusDue(
                    needs: DevicePoller.needs(of: book.engine, tuid: tuid, group: job.group), snapshot, now: now)
            guard
                let result = evaluate(
                    job, snapshot: snapshot, fresh: admission.fresh, into: &outcome, now: now, statusDue: statusDue,
                    log: log)
            else {
                // The installation status matters to this device now: its whole turn, the status read included.
                needStatus.append(job)
                continue
            }
            if result.firingsByRule.isEmpty && result.confirmations.isEmpty {
                outcome.pack(against: job)
                outcomes.append(outcome)
            } else {
                acting.append((job, result, outcome))
            }
        }
        if !acting.isEmpty || !needStatus.isEmpty {
            let concurrency = max(1, options.concurrency)
            // Each turn that calls out: acting on what was decided, or (first reading the status) a whole turn.
            let turns = acting.map(StreamTurn.act) + needStatus.map(StreamTurn.whole)
            let acted = await withTaskGroup(of: DeviceOutcome.self) { group in
                var iterator = turns.makeIterator()
                for _ in 0..<concurrency {
                    guard let next = iterator.next() else { break }
                    group.addTask { await self.take(next, log: log) }
                }
                var all: [DeviceOutcome] = []
                while let outcome = await group.next() {
                    all.append(outcome)
                    if let next = iterator.next() { group.addTask { await self.take(next, log: log) } }
                }
                return all
            }
            outcomes += acted
        }
        var step = CycleReport()
        await absorb(outcomes, into: &step, log: log, deferSaving: true)
        var again: [String: [ThingseeAPI.Message]] = [:]
        for outcome in outcomes where outcome.unwritten { again[outcome.tuid] = batch[outcome.tuid] }
        if !again.isEmpty { stream?.putBack(again) }
        metrics.streamed(step.streamMessages)
        streamTally.include(step)
        let duplicates = outcomes.reduce(0) { $0 + $1.duplicates }
        // One line per step only at debug, or when something fired: the cycle line adds the steps up.
        log.log(
            level: step.firings > 0 || step.errors > 0 ? .info : .debug,
            "stream messages evaluated",
            metadata: [
                "event": "stream-step", "devices": "\(devices)", "messages": "\(step.streamMessages)",
                "duplicates": "\(duplicates)", "outside": "\(outside)", "firings": "\(step.firings)",
                "actions": "\(step.actions)", "confirmed": "\(step.confirmed)", "errors": "\(step.errors)",
            ])
    }
}
