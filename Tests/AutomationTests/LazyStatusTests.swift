import Foundation
import Rules
import Store
import TestSupport
import Testing
import ThingseeAPI

@testable import Automation

/// The installation status costs a request per device; the scheduler reads it only when an evaluation without it
/// shows it matters (`DeviceStep.runWithoutStatus`). These tests hold that to the eager answer.
@Suite("Installation status, read only where it matters")
struct LazyStatusTests {
    /// Status in every position a rule can read it: first operand of `and`, under `not` in an `or`, in a
    /// `clear when` (also with `for`), and only in a log line; with `for D`, `for N of M reports` and `clear after`;
    /// and over a window, which a late report changes at later points.
    static let rules = """
        rule warm-installed
          when status is installed and temp > 8 for 30m
          clear when temp < 6
          then log "{tuid} warm"
        rule cold-and-away
          when temp < 2 and (not (status is installed) or batl < 30)
          then log "{tuid} cold and away or low"
        rule shows-status
          when temp > 12
          then log "{tuid} is {status}"
        rule clear-on-status
          when temp > 10
          clear when status is uninstalled
          then log "{tuid} hot"
        rule battery-only
          when batl < 15
          then log "{tuid} battery"
        rule reports-installed
          on TSPD04ESY93100003, TSPD04ESY93100004, TSPD04ESY93100005, TSPD04ESY93100010
          when temp > 9 and status is installed for 2 of 3 reports
          then log "{tuid} reports"
        rule kept-installed
          on TSPD04ESY93100003, TSPD04ESY93100004, TSPD04ESY93100005, TSPD04ESY93100010
          when temp > 7 and status is installed
          clear after 20m30s
          then log "{tuid} kept"
        rule warm-on-average
          on TSPD04ESY93100003, TSPD04ESY93100004, TSPD04ESY93100005, TSPD04ESY93100010
          when avg(temp, 10m) > 9 and status is installed for 10m
          then log "{tuid} warm on average"
        rule cleared-when-installed
          on TSPD04ESY93100003, TSPD04ESY93100004, TSPD04ESY93100005, TSPD04ESY93100010
          when temp > 9
          clear when temp < 5 or status is installed for 10m
          then log "{tuid} cleared"
        """

    static func message(_ tuid: String, at time: Int64, temp: Double, batl: Double) throws -> ThingseeAPI.Message {
        let json = #"{"tsmId":12100,"tsmEv":10,"tsmTs":\#(time),"tsmTuid":"\#(tuid)","temp":\#(temp),"batl":\#(batl)}"#
        return try #require(try ThingseeAPI.Message.decode(json: Data(json.utf8), source: "test"))
    }

    /// What of a rule state decides what happens next. The engine acts on *true* alone, so the recorded changes are
    /// compared as true / not true: without the status, a condition the status would have made false is unknown.
    /// The oldest change is compared without its time: it is the value at the rule's horizon, recorded at or before
    /// it (trimming keeps the last change before the horizon, and the unknown/false steps can differ there).
    /// Changes before `since` are not compared: the lazy run may leave a run before a false that no status could
    /// change unknown where the eager one has it true (the engine asks for the status only from there on).
    static func behaviour(_ state: RuleState, since: Int64? = nil) -> String {
        func collapsed(_ all: [TruthChange], since: Int64? = nil) -> [String] {
            let changes = since.map { t in [TruthChange(time: t, truth: .no)] + all.filter { $0.time > t } } ?? all
            var out: [String] = []
            for change in changes {
                let value = change.truth == .yes ? "true" : "not true"
                if out.last?.hasPrefix(value) != true { out.append(out.isEmpty ? value : "\(value) from \(change.time)") }
            }
            return out
        }
        let times = [state.phaseSince, state.holdingSince, state.firedAt, state.emittedAt, state.resolvedAt]
        return "\(state.phase) \(times) #\(state.sequence) \(state.reportsInARow) "
            + "\(collapsed(state.changes, since: since)) \(collapsed(state.clearChanges)) "
            + "\(state.reports.map { $0.truth == .yes })"
    }

    struct Device {
        var tuid: String
        var status: String
        var eager = DeviceSnapshot()
        var eagerStates: [RuleState]
        var lazy = DeviceSnapshot()
        var lazyStates: [RuleState]
        /// The newest report given so far.
        var newest: Int64? = nil
    }

    @Test func evaluatingWithoutTheStatusFirstDecidesExactlyAsReadingItAlways() async throws {
        let engine = try engine(Self.rules)
        let step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
        let statuses = ["installed", "uninstalled", "quarantine"]
        var random = SplitMix64(seed: 42)
        var devices = (0..<24).map { i in
            Device(
                tuid: String(format: "TSPD04ESY9310%04d", i), status: statuses[i % 3],
                eagerStates: engine.initialStates(), lazyStates: engine.initialStates())
        }
        var fetches = 0
        var evaluations = 0
        var firings = 0
        var time: Int64 = 1_700_000_000
        for _ in 0..<120 {
            time += 300
            for d in devices.indices {
                if random.next() % 20 == 0 { devices[d].status = statuses[Int(random.next() % 3)] }
                // Each device wanders around its own level, so some stay cold, some cross 8 °C now and then.
                let level = Double(d % 6) * 2.5
                // Now and then one more, from before the previous evaluation: the rules rewind. It is never older
                // than the floor the earlier steps were promised (`reportsFrom`, the newest report less 240 s).
                let times =
                    (0..<Int(random.next() % 3)).map { time - Int64($0) * 60 }
                    + (random.next() % 4 == 0 ? [time - 450] : [])
                let fresh = try times.map { at in
                    try Self.message(
                        devices[d].tuid, at: at, temp: level + Double(random.next() % 60) / 10 - 3,
                        batl: Double(10 + random.next() % 90))
                }
                if let latest = times.max() { devices[d].newest = max(devices[d].newest ?? latest, latest) }
                let eager = step.run(
                    DeviceStep.Input(
                        tuid: devices[d].tuid, group: nil, snapshot: devices[d].eager, states: devices[d].eagerStates,
                        pending: [], fresh: fresh, now: time),
                    status: devices[d].status)
                let (lazy, fetched) = step.runLazily(
                    DeviceStep.Input(
                        tuid: devices[d].tuid, group: nil, snapshot: devices[d].lazy, states: devices[d].lazyStates,
                        pending: [], fresh: fresh, now: time, reportsFrom: devices[d].newest.map { $0 - 240 }),
                    status: devices[d].status)
                if fetched { fetches += 1 }
                evaluations += 1
                func describe(_ output: DeviceStep.Output) -> [String] {
                    output.firingsByRule.flatMap { $0.firings.map { "\($0.rule) \($0.transition) \($0.actions)" } }
                }
                #expect(describe(lazy) == describe(eager), "device \(d) at \(time)")
                for r in engine.rules.indices {
                    // Without the status, false is false whatever the status: the changes from the lazy run's last.
                    let since = lazy.states[r].changes.last(where: { $0.truth == .no })?.time
                    #expect(
                        Self.behaviour(lazy.states[r], since: since) == Self.behaviour(eager.states[r], since: since),
                        "\(engine.rules[r].name), device \(d) (\(devices[d].status)) at \(time)")
                }
                firings += eager.firingsByRule.reduce(0) { $0 + $1.firings.count }
                devices[d].eager = eager.snapshot
                devices[d].eagerStates = eager.states
                devices[d].lazy = lazy.snapshot
                devices[d].lazyStates = lazy.states
            }
        }
        // The comparison means something only if rules fired and the status was both needed and not.
        #expect(firings > 50)
        #expect(fetches > evaluations / 10)
        #expect(fetches < evaluations * 3 / 4)
    }

    /// A warm spell that is over (cold again, whatever the status) needs no status: the decision at `now` reads only
    /// what came after it. One still going does, and so does a firing one whose `clear after` counts from the first
    /// not-true change.
    @Test func aWarmSpellThatIsOverNeedsNoStatusAndOneThatLastsDoes() throws {
        let engine = try engine(
            """
            rule cold-room-warm
              when temp > 8 and status is installed for 30m
              clear when temp < 6
              then log "{tuid} warm"
            rule kept-warm
              when temp > 8 and status is installed
              clear after 1h
              then log "{tuid} kept"
            """)
        let step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
        let now: Int64 = 1_700_000_000
        func input(
            _ temps: [(minutesAgo: Int64, temp: Double)], after previous: DeviceStep.Output? = nil,
            at time: Int64 = now
        ) throws -> DeviceStep.Input {
            try Self.input(engine, temps, after: previous, at: time)
        }
        func eager(_ input: DeviceStep.Input) -> DeviceStep.Output { step.run(input, status: "installed") }

        // Warm for 40 minutes this morning, cold since: decided without the status, and as with it.
        let over = try input([(300, 4), (240, 9), (220, 9.5), (200, 9), (180, 4), (60, 3.5)])
        let lazy = step.runWithoutStatus(over)
        let asked = lazy == nil
        #expect(!asked, "asked for the status of a warm spell that is over")
        guard let decided = lazy else { return }
        #expect(decided.firingsByRule.isEmpty)
        #expect(eager(over).firingsByRule.isEmpty)
        for r in engine.rules.indices {
            #expect(decided.states[r].phase == eager(over).states[r].phase)
            #expect(decided.states[r].holdingSince == nil)
        }

        // Warm now: the status decides.
        #expect(step.runWithoutStatus(try input([(300, 4), (50, 9), (10, 9.5)])) == nil)

        // Firing, and cold again: `clear after 1h` counts from when it stopped being true, which the status decides.
        let fired = eager(try input([(20, 9), (5, 9.5)]))
        let kept = try #require(engine.rules.firstIndex { $0.name == "kept-warm" })
        #expect(fired.states[kept].phase == .firing)
        let later = try input([(10, 9), (5, 4)], after: fired, at: now + 1_800)
        #expect(step.runWithoutStatus(later) == nil)
    }

    /// A tracked `clear when … for` counts from its own run, which a false condition does not end: the status its
    /// clear condition reached is still asked for.
    @Test func aTrackedClearStillAsksForTheStatusItReached() throws {
        let engine = try engine(
            """
            rule warm
              when temp > 9
              clear when temp < 5 or status is installed for 10m
              then log "{tuid} warm"
            """)
        let step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
        // At 7 °C half an hour ago the clear condition was the status's to decide; at 4 °C since, it holds anyway.
        #expect(step.runWithoutStatus(try Self.input(engine, [(30, 7), (5, 4)], at: 1_700_000_000)) == nil)
    }

    /// A false that a later report could still rewind across (newer than `reportsFrom`) does not make an earlier
    /// `status` test count for nothing: here a late report lifts the 10-minute average at that false, the warm spell
    /// never ended, and its start must come from history recorded with the status. Nor does a false in a rule that
    /// reads alerts, which an episode learnt late rewinds to its own time.
    @Test func aFalseALateReportCouldStillRewindAcrossKeepsTheStatusNeeded() throws {
        let warm = try engine(
            """
            rule warm-on-average
              when avg(temp, 10m) > 9 and status is installed for 20m
              then log "{tuid} warm"
            """)
        let step = DeviceStep(engine: warm, conversion: MessageConversion(needs: warm.ruleSet.needs))
        let now: Int64 = 1_700_000_000
        func lazy(_ input: DeviceStep.Input) -> DeviceStep.Output { step.runLazily(input, status: "installed").output }
        func eager(_ input: DeviceStep.Input) -> DeviceStep.Output { step.run(input, status: "installed") }
        // Warm for half an hour, then one cold report twelve minutes ago: false at that report, whatever the status.
        let first = try Self.input(warm, [(40, 12), (35, 12), (30, 12), (12, 5)], at: now)
        let (lazyFirst, eagerFirst) = (lazy(first), eager(first))
        #expect(lazyFirst.firingsByRule.isEmpty && eagerFirst.firingsByRule.isEmpty)
        // Five minutes later: a report from 13 minutes before the first evaluation arrives late (20 °C, so the
        // average at the cold report is 12.5), and two warm ones. Warm since 45 minutes: it fires now.
        let late: [(minutesAgo: Int64, temp: Double)] = [(18, 20), (3, 12), (1, 12)]
        let eagerSecond = eager(try Self.input(warm, late, after: eagerFirst, at: now + 300))
        let lazySecond = lazy(try Self.input(warm, late, after: lazyFirst, at: now + 300))
        #expect(eagerSecond.firingsByRule.count == 1)
        #expect(lazySecond.firingsByRule.count == eagerSecond.firingsByRule.count)
        #expect(lazySecond.states[0].holdingSince == eagerSecond.states[0].holdingSince)

        // Cold again 40 minutes ago, long before any report still to come: the status is not needed.
        let over = try Self.input(warm, [(90, 12), (60, 12.5), (40, 4), (5, 4)], at: now)
        #expect(step.runWithoutStatus(over) != nil)

        let alerts = try engine(
            """
            rule lost-and-installed
              when alert "gateway connection lost" and status is installed for 30m
              then log "{tuid} lost"
            """)
        let alertStep = DeviceStep(engine: alerts, conversion: MessageConversion(needs: alerts.ruleSet.needs))
        var input = try Self.input(alerts, [(120, 4), (5, 4)], at: now)
        input.snapshot.observations.alerts = [
            AlertEpisode(type: "gateway connection lost", from: now - 7_200, to: now - 3_600)
        ]
        #expect(alertStep.runWithoutStatus(input) == nil)
    }

    /// One device's step input: messages of `temp` so many minutes before `time`, after `previous`'s output.
    static func input(
        _ engine: Engine, _ temps: [(minutesAgo: Int64, temp: Double)], after previous: DeviceStep.Output? = nil,
        at time: Int64
    ) throws -> DeviceStep.Input {
        let tuid = "TSPD04ESY93100802"
        // As the scheduler promises with its default ten-minute overlap: nothing older than the newest less that.
        let newest = temps.map { time - $0.minutesAgo * 60 }.max()
        return DeviceStep.Input(
            tuid: tuid, group: nil, snapshot: previous?.snapshot ?? DeviceSnapshot(),
            states: previous?.states ?? engine.initialStates(), pending: [],
            fresh: try temps.map { try message(tuid, at: time - $0.minutesAgo * 60, temp: $0.temp, batl: 80) },
            now: time, reportsFrom: newest.map { $0 - 600 })
    }

    @Test func aColdDeviceCostsNoStatusRequestAndAWarmOneCostsOne() async throws {
        // No bin is ever that far from its sensor: no status is needed at all.
        let far = """
            rule far
              in group prfi00wastebins
              when status is installed and dist > 100000 and kind is not gateway
              then log "{tuid} far"
            """
        // Every bin reports a distance: each needs its status once, and the installed ones fire.
        let any = """
            rule any
              in group prfi00wastebins
              when dist >= 0 and status is installed and kind is not gateway
              then log "{tuid} reports"
            """
        try await SimulatorHarness.with({ $0.devices = 60 }) { sim in
            let bins = try await sim.client.groupThings("prfi00wastebins").tuids.filter { !$0.hasPrefix("TSGW") }
            try #require(bins.count >= 3)
            _ = try await sim.client.setInstallationStatus(bins[0], .uninstalled)
            var installed = 0
            for tuid in bins {
                let status = try await sim.client.installations(tuid, limit: 1).first?.installationStatus
                if status == "installed" { installed += 1 }
            }
            try #require(installed > 0 && installed < bins.count)
            let route = "GET /things/{tuid}/installations"
            let before = await sim.server.stats.byRoute[route] ?? 0

            let cold = try scheduler(sim, store: try SQLiteStore(path: temporaryDatabase()), rules: far)
            #expect(await cold.runCycle().firings == 0)
            #expect(await sim.server.stats.byRoute[route] ?? 0 == before)

            let warm = try scheduler(sim, store: try SQLiteStore(path: temporaryDatabase()), rules: any)
            #expect(await warm.runCycle().firings == installed)
            #expect(await sim.server.stats.byRoute[route] ?? 0 == before + bins.count)
        }
    }

    /// Through the simulator: a condition that was true hours ago within the look-back and is false whatever the
    /// status since costs no status request; one true now costs one per device. (`hour` makes the two exact: the
    /// windows are wide enough that an hour turning during the test changes neither.)
    @Test func aConditionOverBeforeNowCostsNoStatusRequest() async throws {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let hour = utc.component(.hour, from: Date())
        func ago(_ hours: Int) -> Int { (hour - hours + 24) % 24 }
        func rules(from: Int, to: Int) -> String {
            """
            rule bins
              in group prfi00wastebins
              when dist >= 0 and hour between \(from) and \(to) and status is installed for 30m
              then log "{tuid}"
            """
        }
        try await SimulatorHarness.with({ $0.devices = 60 }) { sim in
            let bins = try await sim.client.groupThings("prfi00wastebins").tuids.filter { !$0.hasPrefix("TSGW") }
            try #require(bins.count >= 3)
            let route = "GET /things/{tuid}/installations"
            let before = await sim.server.stats.byRoute[route] ?? 0

            // Three to five hours ago: each bin reported then, and the status would have mattered then.
            let past = try scheduler(
                sim, store: try SQLiteStore(path: temporaryDatabase()), rules: rules(from: ago(5), to: ago(3)))
            #expect(await past.runCycle().errors == 0)
            #expect(await sim.server.stats.byRoute[route] ?? 0 == before)

            let current = try scheduler(
                sim, store: try SQLiteStore(path: temporaryDatabase()), rules: rules(from: ago(1), to: (hour + 1) % 24))
            #expect(await current.runCycle().errors == 0)
            #expect(await sim.server.stats.byRoute[route] ?? 0 == before + bins.count)
        }
    }

    /// A status read that fails (its connection cut as the request goes out) leaves the device as it was, unknown
    /// for the cycle: nothing fires on a guess, nothing is lost, and the next cycle fires it once.
    @Test func aFailedStatusReadLeavesTheDeviceUnknownAndItFiresOnceNextCycle() async throws {
        let rules = """
            rule bin-installed
              in group prfi00wastebins
              when dist >= 0 and status is installed and kind is not gateway for 3 reports
              then log "{tuid}"
            """
        // `for 3 reports`: the next cycle fires only if the failed one's messages were not used up without the status.
        try await SimulatorHarness.with({ $0.devices = 60 }) { sim in
            let bins = try await sim.client.groupThings("prfi00wastebins").tuids.filter { !$0.hasPrefix("TSGW") }
            let proxy = try PartitionProxy(upstreamPort: try #require(sim.baseURL.port))
            defer { proxy.stop() }
            var url = URLComponents(url: sim.baseURL, resolvingAgainstBaseURL: false)!
            url.port = proxy.port
            let client = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: url.string!, clientID: "sim", clientSecret: Secret("sim-secret"), retry: .none, timeout: 10))
            defer { Task { await client.shutdown() } }
            let store = try SQLiteStore(path: temporaryDatabase())
            let run = try scheduler(sim, store: store, rules: rules, client: client) { $0.concurrency = 1 }

            proxy.cut(whenClientSends: "/installations")
            let first = await run.runCycle()
            #expect(proxy.triggered)
            #expect(first.errors > 0)
            #expect(first.firings == 0, "fired without its status")
            #expect(try await firingsPerPair(store).isEmpty)

            proxy.heal()
            let second = await run.runCycle()
            #expect(second.errors == 0)
            #expect(second.firings == bins.count)
            #expect(try await firingsPerPair(store).values.allSatisfy { $0 == 1 })
            try await expectFiringsMatchState(store)
        }
    }
}

extension DeviceStep {
    /// The step with the device's installation status known from the start.
    func run(_ input: Input, status: String) -> Output {
        var known = input
        known.snapshot.observations.status = status
        return run(known)
    }

    /// As the scheduler does: without the status first, and with it (one fetch) when that run says it matters.
    func runLazily(_ input: Input, status: String) -> (output: Output, fetched: Bool) {
        if let decided = runWithoutStatus(input) { return (decided, false) }
        return (run(input, status: status), true)
    }
}
