import Automation
import Foundation
import Rules
import Store
import TestSupport
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
            let store = try Store(path: path, configuration: configuration)
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

    @Test func aStalledCycleIsAbandonedOnTheInjectedClock() async throws {
        // Every answer takes ten minutes of real time, within the client's deadline; the manual clock says five
        // minutes pass without progress.
        try await SimulatorHarness.with({ $0.latencyMs = 600_000 }) { sim in
            let clock = ManualClock()
            let store = try Store(path: temporaryDatabase())
            let patient = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: sim.baseURL.absoluteString, clientID: "sim", clientSecret: Secret("sim-secret"),
                    retry: .none, timeout: 900))
            let run = try scheduler(sim, store: store, client: patient, clock: clock) {
                $0.stallTimeout = .seconds(300)
            }
            let cycle = Task { await run.runCycle() }
            for _ in 0..<31 {
                await clock.waitForSleepers(1)
                clock.advance(by: .seconds(10))
            }
            let report = await cycle.value
            #expect(report.stalled)
            #expect(report.errors > 0)
            #expect(try await store.actions().isEmpty)
        }
    }

    @Test func cyclesFollowTheIntervalOnTheInjectedClock() async throws {
        try await SimulatorHarness.with { sim in
            let clock = ManualClock()
            let store = try Store(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, rules: twoRulesOneDevice, clock: clock) {
                $0.interval = 60
            }
            let running = Task { await run.run() }
            func finishedCycles() async throws -> Int {
                try await store.cycles().filter { $0.summary != nil }.count
            }
            while try await finishedCycles() < 1 { await Task.yield() }
            // The second cycle waits for the clock: nothing happens until a minute has passed on it.
            await clock.waitForSleepers(1)
            clock.advance(by: .seconds(59))
            for _ in 0..<100 { await Task.yield() }
            #expect(try await finishedCycles() == 1)
            clock.advance(by: .seconds(1))
            while try await finishedCycles() < 2 { await Task.yield() }
            await run.requestStop()
            #expect(await running.value == .stopped)
            try await expectFiringsMatchState(store)
        }
    }

    @Test func aContinuousRunStopsAfterRepeatedLoginRefusals() async throws {
        try await SimulatorHarness.with(secret: "not-the-secret") { sim in
            let clock = ManualClock()
            let store = try Store(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, clock: clock) {
                $0.maxAuthFailures = 3
                $0.stallTimeout = .seconds(86_400)
            }
            let running = Task { await run.run() }
            let driver = Task {
                while !Task.isCancelled {
                    await clock.waitForSleepers(1)
                    clock.advance(by: .seconds(60))
                }
            }
            #expect(await running.value == .authenticationRefused(cycles: 3))
            driver.cancel()
            clock.advance(by: .seconds(60))
            #expect(try await store.cycles().count == 3)
        }
    }
}
