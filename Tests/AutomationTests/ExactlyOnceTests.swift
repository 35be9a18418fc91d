@testable import Automation
import Foundation
import Rules
import Store
import TestSupport
import Synchronization
import Testing
import ThingseeAPI

/// Two rules that fire for every environment device in the same cycle.
let twoRulesOneDevice = """
    rule warm-a: when temp > -100 then log "{tuid} a"
    rule warm-b: when temp > -100 then log "{tuid} b"
    """

@Suite("Exactly once under faults")
struct ExactlyOnceTests {
    @Test func aRefusedWriteLosesNoFiringAndAdvancesNoOtherRule() async throws {
        try await SimulatorHarness.with { sim in
            let path = temporaryDatabase()
            var configuration = Database.Configuration()
            configuration.busyTimeoutMilliseconds = 20
            let store = try SQLiteStore(path: path, configuration: configuration)
            let run = try scheduler(sim, store: store, rules: twoRulesOneDevice)

            // Another connection holds the write lock for the whole cycle: every write of it is refused.
            let blocker = try Database(path: path)
            try blocker.execute("BEGIN EXCLUSIVE")
            let refused = await run.runCycle()
            #expect(refused.firings > 0)
            #expect(refused.errors > 0)
            try blocker.execute("COMMIT")
            #expect(try await store.actions().isEmpty)

            // Once writes go through, each firing happens, once, and the states count exactly what was logged.
            let next = await run.runCycle()
            #expect(next.firings == refused.firings)
            let counts = try await firingsPerPair(store)
            #expect(counts.count == refused.firings)
            #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts)")
            try await expectFiringsMatchState(store)
            #expect(await run.runCycle().firings == 0)
            try await expectFiringsMatchState(store)
        }
    }

    @Test func aWriteWhoseAnswerIsLostIsReconciledNotSentAgain() async throws {
        // Every write is applied, then answered 504 or dropped without an answer.
        try await SimulatorHarness.with({ $0.ambiguousWriteRate = 1 }) { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            let rules = """
                rule park: when battery below 101 then move to quarantine
                rule tune: when battery below 101 then send command 1500 reportInterval=600
                """
            let run = try scheduler(sim, store: store, rules: rules)
            let first = await run.runCycle()
            #expect(first.firings > 0)
            #expect(first.outcomeUnknown == first.actions, "every write's answer was lost")
            #expect(try await store.openIntents().count == first.actions)
            let applied = await sim.server.stats.mutatingApplied
            #expect(applied == first.actions, "each write reached the simulator exactly once")

            // The next cycle finds every one of them applied, and sends nothing again.
            let second = await run.runCycle()
            #expect(second.reconciled == first.actions)
            #expect(try await store.openIntents().isEmpty)
            #expect(await sim.server.stats.mutatingApplied == applied)
            for record in try await store.actions(filter: ActionFilter(dryRun: false)) {
                #expect(record.outcome == .done)
                if record.kind == .send {
                    let history = try await sim.client.commandHistory(record.tuid)
                    #expect(history.filter { $0.transactionId.map(Int64.init) == record.transactionID }.count == 1)
                }
            }
            try await expectFiringsMatchState(store)
        }
    }

    @Test func aStalledCycleIsAbandonedOnTheInjectedClock() async throws {
        // Every answer takes ten minutes of real time, within the client's deadline; the manual clock says five
        // minutes pass without progress.
        try await SimulatorHarness.with({ $0.latencyMs = 600_000 }) { sim in
            let clock = ManualClock()
            let store = try SQLiteStore(path: temporaryDatabase())
            let patient = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: sim.baseURL.absoluteString, clientID: "sim", clientSecret: Secret("sim-secret"),
                    retry: .none, timeout: 900))
            let run = try scheduler(sim, store: store, client: patient, clock: clock) {
                $0.stallTimeout = .seconds(300)
            }
            let cycle = Task { await run.runCycle() }
            // Once the login request is out (and hangs), five minutes pass on the clock with nothing else happening.
            while patient.metrics.requests == 0 { try await Task.sleep(for: .milliseconds(10)) }
            for _ in 0..<31 {
                await clock.waitForSleepers(count: 1)
                clock.advance(by: .seconds(10))
            }
            let report = await cycle.value
            #expect(report.stalled)
            #expect(report.errors > 0)
            #expect(try await store.actions().isEmpty)
        }
    }

    /// A cycle abandoned after some of its devices finished keeps what they did: a cycle takes each device's new
    /// state as its outcome arrives and saves it at the end from the outcome's marks, abandoned or not. The
    /// devices still in flight count as failed and are held as they were.
    @Test func anAbandonedCycleKeepsAndSavesWhatItsFinishedDevicesDid() async throws {
        try await SimulatorHarness.with({ $0.latencyMs = 100 }) { sim in
            let clock = ManualClock()
            let store = try SQLiteStore(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, clock: clock) {
                $0.stallTimeout = .seconds(300)
                $0.concurrency = 1
            }
            let finished = Mutex(false)
            let cycle = Task {
                let report = await run.runCycle()
                finished.withLock { $0 = true }
                return report
            }
            // A few devices are done; then the clock runs on, five minutes and more, until the cycle gives up.
            while await run.packed.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
            while !finished.withLock({ $0 }) {
                if clock.sleeperCount > 0 { clock.advance(by: .seconds(10)) }
                try await Task.sleep(for: .milliseconds(1))
            }
            let report = await cycle.value
            #expect(report.stalled)
            let held = await run.packed
            #expect(held.count >= 3 && held.count < report.devices)
            #expect(report.failedDevices == report.devices - held.count)
            // Every finished device is saved as it is held: its snapshot, its cursor, its rules' states.
            let saved = try await store.devices(dryRun: false)
            #expect(Set(saved.map(\.tuid)) == Set(held.keys))
            for row in saved {
                #expect(row.cursorTs == held[row.tuid]?.cursor)
                #expect(row.observations.map([UInt8].init) == held[row.tuid]?.snapshot)
            }
            #expect(Set(try await store.ruleStates(dryRun: false).map(\.tuid)).isSubset(of: Set(held.keys)))
            // The turn in flight was cancelled: nothing of it is taken after the cycle ended.
            try await Task.sleep(for: .milliseconds(500))
            #expect(await run.packed.count == held.count)
        }
    }

    @Test func cyclesFollowTheIntervalOnTheInjectedClock() async throws {
        try await SimulatorHarness.with { sim in
            let clock = ManualClock()
            let store = try SQLiteStore(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, rules: twoRulesOneDevice, clock: clock) {
                $0.interval = 60
            }
            let running = Task { await run.run() }
            func finishedCycles() async throws -> Int {
                try await store.cycles().filter { $0.summary != nil }.count
            }
            try await eventually { try await finishedCycles() >= 1 }
            // The second cycle waits for the clock: nothing happens until a minute has passed on it.
            await clock.waitForSleepers(count: 1)
            clock.advance(by: .seconds(59))
            for _ in 0..<100 { await Task.yield() }
            #expect(try await finishedCycles() == 1)
            clock.advance(by: .seconds(1))
            try await eventually { try await finishedCycles() >= 2 }
            await run.requestStop()
            #expect(await running.value == .stopped)
            try await expectFiringsMatchState(store)
        }
    }

    @Test func aContinuousRunStopsAfterRepeatedLoginRefusals() async throws {
        try await SimulatorHarness.with(secret: "not-the-secret") { sim in
            let clock = ManualClock()
            let store = try SQLiteStore(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, clock: clock) {
                $0.maxAuthFailures = 3
                // The driver below moves the clock whenever anything sleeps on it, also during a cycle: no stall here.
                $0.stallTimeout = .seconds(1_000_000_000)
            }
            let running = Task { await run.run() }
            let driver = Task {
                while !Task.isCancelled {
                    await clock.waitForSleepers(count: 1)
                    clock.advance(by: .seconds(60))
                }
            }
            #expect(await running.value == .authenticationRefused(cycles: 3))
            driver.cancel()
            clock.advance(by: .seconds(60))
            let cycles = try await store.cycles()
            #expect(cycles.count == 3, "\(cycles)")
        }
    }
}

/// Waits for something the test cannot drive with the manual clock (an HTTP exchange finishing), polling, bounded.
func eventually(
    within attempts: Int = 6000, sourceLocation: Testing.SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    for _ in 0..<attempts {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("the condition never held", sourceLocation: sourceLocation)
}
