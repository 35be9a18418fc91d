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
    }

    /// The generation of a stream connection whose backfill cycle should run now: the first time it is seen.
    /// Should that cycle fail for some device, the regular cycles (which poll until the backfill succeeds) retry.
    func backfillDue() -> Int? {
        guard let generation = stream?.generationToBackfill, generation != backfillTried else { return nil }
        return generation
    }

    /// Evaluates the stream's messages of each device in `batch`: one stream step.
    func runStreamStep(_ batch: [String: [ThingseeAPI.Message]]) async {
        let log = logger.with(["source": "stream"])
        do {
            try await loadStateIfNeeded()
        } catch {
            stream?.putBack(batch)
            log.error("loading the saved state failed", metadata: ["error": "\(error)", "event": "load-failed"])
            return
        }
        var inScope = Set(devicesInScope())
        if let heldDevices { inScope.formIntersection(heldDevices) }
        let pending = await pendingConfirmations()
        let book = rulebook.withLock { $0 }
        var outside = 0
        var jobs: [DeviceJob] = []
        for (tuid, messages) in batch.sorted(by: { $0.key < $1.key }) {
            // Devices outside the rules' scopes (the stream's topics may be wider), or held by another process
            // sharing the database, are not evaluated.
            guard inScope.contains(tuid) else {
                outside += messages.count
                continue
            }
            jobs.append(
                DeviceJob(
                    tuid: tuid, group: directory[tuid], snapshot: snapshots[tuid] ?? DeviceSnapshot(),
                    states: states[tuid] ?? book.engine.initialStates(), pending: pending[tuid] ?? [], rulebook: book,
                    alerting: nil, source: .stream(messages)))
        }
        let concurrency = max(1, options.concurrency)
        let outcomes = await withTaskGroup(of: DeviceOutcome.self) { group in
            var iterator = jobs.makeIterator()
            for _ in 0..<concurrency {
                guard let job = iterator.next() else { break }
                group.addTask { await self.process(job, log: log) }
            }
            var all: [DeviceOutcome] = []
            while let outcome = await group.next() {
                all.append(outcome)
                if let job = iterator.next() { group.addTask { await self.process(job, log: log) } }
            }
            return all
        }
        var step = CycleReport()
        await absorb(outcomes, into: &step, log: log)
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
                "event": "stream-step", "devices": "\(jobs.count)", "messages": "\(step.streamMessages)",
                "duplicates": "\(duplicates)", "outside": "\(outside)", "firings": "\(step.firings)",
                "actions": "\(step.actions)", "confirmed": "\(step.confirmed)", "errors": "\(step.errors)",
            ])
    }
}
