import Automation
import Foundation
import Logging
import Rules
import Store
import TestSupport
import Testing
import ThingseeAPI

/// The design card's two rules.
let designCard = """
    rule low-battery
      when battery below 20
      then move to quarantine

    rule gateway-lost: when alert "gateway connection lost" for 1h → send command 1500 measurementInterval=60 reportInterval=300
    """

func temporaryDatabase() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-automation-\(UUID().uuidString)")
    return dir.appendingPathComponent("tsee.db").path
}

func engine(_ text: String) throws -> Engine {
    let (ruleSet, diagnostics) = RuleSet.parse(file: "test.rules", text: text)
    #expect(diagnostics.isEmpty, "\(diagnostics)")
    return Engine(ruleSet)
}

func scheduler(
    _ sim: SimulatorHarness, store: any Store, rules: String = designCard, client: ThingseeClient? = nil,
    clock: ManualClock = ManualClock(), configure: (inout SchedulerOptions) -> Void = { _ in }
) throws -> Scheduler {
    var options = SchedulerOptions()
    options.concurrency = 4
    configure(&options)
    return Scheduler(
        client: client ?? sim.client, engine: try engine(rules), store: store, options: options,
        clock: SchedulerClock(clock), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
}

/// The invariant checked after every fault: for each live (rule, device), the firings its saved state counts equal
/// the firings the action log holds.
func expectFiringsMatchState(_ store: any Store, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
    var logged: [String: Set<Int64>] = [:]
    for record in try await store.actions(filter: ActionFilter(dryRun: false)) {
        let parts = record.firingKey.split(separator: "|")
        guard parts.count >= 3, let sequence = Int64(parts[2]) else { continue }
        logged["\(record.rule) \(record.tuid)", default: []].insert(sequence)
    }
    var counted: [String: Int] = [:]
    for row in try await store.ruleStates(dryRun: false) {
        let state = try JSONDecoder().decode(RuleState.self, from: row.state)
        if state.sequence > 0 { counted["\(row.rule) \(row.tuid)"] = state.sequence }
    }
    #expect(counted == logged.mapValues(\.count), sourceLocation: sourceLocation)
}

/// How many times each (rule, device) was acted on in the live log.
func firingsPerPair(_ store: any Store, dryRun: Bool = false) async throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for record in try await store.actions(filter: ActionFilter(dryRun: dryRun)) {
        counts["\(record.rule) \(record.tuid)", default: 0] += 1
    }
    return counts
}

@Suite("Scheduler against the simulator")
struct SchedulerTests {
    @Test func designCardRulesFireOnceEachOverManyCycles() async throws {
        try await SimulatorHarness.with({ $0.devices = 40 }) { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            let run = try scheduler(sim, store: store)
            var firings = 0
            for _ in 0..<4 { firings += await run.runCycle().firings }

            let counts = try await firingsPerPair(store)
            #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts)")
            #expect(firings == counts.count)
            let records = try await store.actions(filter: ActionFilter(dryRun: false))
            let quarantined = records.filter { $0.rule == "low-battery" }
            let reconfigured = records.filter { $0.rule == "gateway-lost" }
            #expect(!quarantined.isEmpty)
            #expect(!reconfigured.isEmpty)
            for record in quarantined {
                #expect(record.outcome == .done)
                #expect(try await sim.client.installations(record.tuid).first?.installationStatus == "quarantine")
            }
            for record in reconfigured {
                #expect(record.outcome == .done)
                let history = try await sim.client.commandHistory(record.tuid)
                #expect(history.filter { $0.transactionId.map(Int64.init) == record.transactionID }.count == 1)
            }
        }
    }

    @Test func aSecondRunOnTheSameDatabaseDoesNotFireAgain() async throws {
        try await SimulatorHarness.with { sim in
            let path = temporaryDatabase()
            let first = try scheduler(sim, store: try SQLiteStore(path: path))
            let report = await first.runCycle()
            #expect(report.firings > 0)
            let before = try await firingsPerPair(try SQLiteStore(path: path))

            let second = try scheduler(sim, store: try SQLiteStore(path: path))
            let again = await second.runCycle()
            #expect(again.firings == 0)
            #expect(try await firingsPerPair(try SQLiteStore(path: path)) == before)
        }
    }

    @Test func dryRunMakesNoMutatingRequestAndKeepsItsStateApart() async throws {
        try await SimulatorHarness.with { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            let dry = try scheduler(sim, store: store) { $0.dryRun = true }
            let before = await sim.server.stats.mutating
            let report = await dry.runCycle()
            #expect(report.firings > 0)
            #expect(await sim.server.stats.mutating == before)
            let records = try await store.actions()
            #expect(!records.isEmpty)
            #expect(records.allSatisfy { $0.dryRun && ($0.outcome == .would || $0.outcome == "would-skip") })
            #expect(try await store.ruleStates(dryRun: false).isEmpty)
            #expect(try await !store.ruleStates(dryRun: true).isEmpty)

            // The live run that follows starts from nothing and acts.
            let live = try scheduler(sim, store: store)
            #expect(await live.runCycle().firings == report.firings)
            #expect(await sim.server.stats.mutating > before)
        }
    }

    @Test func intentsLeftOpenByACrashAreCompletedOrCarriedOutNeverBoth() async throws {
        try await SimulatorHarness.with { sim in
            let devices = try await sim.allDevices().filter { !$0.hasPrefix("TSGW") }
            let (a, b, c) = (devices[0], devices[1], devices[2])
            let store = try SQLiteStore(path: temporaryDatabase())
            // The API call for c's command went out before the crash; a's and b's did not.
            _ = try await sim.client.sendCommands(
                c, [Command(tsmId: 1500, transactionId: 888, parameters: [("reportInterval", 600)])])
            let now = sim.client.serverNow()
            try await store.recordIntents([
                ActionIntent(
                    time: now, rule: "gateway-lost", tuid: a, sequence: 1, actionIndex: 0, kind: .send,
                    parameters: #"{"tsmId":1500,"reportInterval":300}"#, dryRun: false, transactionID: 777),
                ActionIntent(
                    time: now, rule: "low-battery", tuid: b, sequence: 1, actionIndex: 0, kind: .move,
                    parameters: #"{"status":"quarantine"}"#, dryRun: false),
                ActionIntent(
                    time: now, rule: "gateway-lost", tuid: c, sequence: 1, actionIndex: 0, kind: .send,
                    parameters: #"{"tsmId":1500,"reportInterval":600}"#, dryRun: false, transactionID: 888),
            ])
            #expect(try await store.openIntents().count == 3)

            let restarted = try scheduler(sim, store: store, rules: "rule never: when temp > 1000 then log \"x\"")
            _ = await restarted.runCycle()

            #expect(try await store.openIntents().isEmpty)
            let sentA = try await sim.client.commandHistory(a).filter { $0.transactionId == 777 }
            let sentC = try await sim.client.commandHistory(c).filter { $0.transactionId == 888 }
            #expect(sentA.count == 1)
            #expect(sentC.count == 1)
            #expect(try await sim.client.installations(b).first?.installationStatus == "quarantine")
            let records = try await store.actions()
            #expect(records.allSatisfy { $0.outcome == .done })
            #expect(records.first { $0.tuid == c }?.error?.contains("reconciled") == true)
        }
    }

    @Test func aSentCommandIsConfirmedByItsEcho() async throws {
        try await SimulatorHarness.with({ $0.echoDelay = 1 }) { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            // Every device, not only those whose gateway connection is lost: their echoes reach the API only when
            // the episode ends, hours later.
            let rules = #"rule configure: when battery below 101 → send command 1500 measurementInterval=60 reportInterval=5"#
            let run = try scheduler(sim, store: store, rules: rules)
            #expect(await run.runCycle().firings > 0)
            #expect(try await !store.pendingConfirmations().isEmpty)
            var confirmed = 0
            for _ in 0..<10 where try await !store.pendingConfirmations().isEmpty {
                try await Task.sleep(for: .milliseconds(600))
                confirmed += await run.runCycle().confirmed
            }
            #expect(confirmed > 0)
            let record = try #require(try await store.actions().first { $0.confirmState == .confirmed })
            #expect(record.confirmedAt != nil)
            let values = try JSONValue.parse(Data(try #require(record.confirmedValues).utf8))
            #expect(values["values"]?["measurementInterval"]?.doubleValue == 60)
            // 5 s is clamped by the device, and the log says so.
            #expect(values["differs"]?["reportInterval"]?["asked"]?.doubleValue == 5)
        }
    }

    /// Saves go in transactions of `saveChunk` devices. A real refusal in the database (a trigger aborting one
    /// device's write) costs its chunk and the ones after it, which wait for the next save; the chunks before it
    /// are written whole. (A firing's rule state is written apart, with its intents, before the save.)
    @Test func aRefusedSaveKeepsItsChunkAndTheRestForTheNextSave() async throws {
        try await SimulatorHarness.with { sim in
            let path = temporaryDatabase()
            let store = try SQLiteStore(path: path)
            let run = try scheduler(sim, store: store, rules: #"rule warm: when temp > -100 then log "{tuid}""#) {
                $0.saveChunk = 5
            }
            let fleet = sim.server.deviceTUIDs().sorted()
            let refused = fleet[fleet.count / 2]
            try Database(path: path).execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON devices WHEN NEW.tuid = '\(refused)' "
                    + "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
            #expect(await run.runCycle().errors > 0)
            let saved = Set(try await store.devices(dryRun: false).map(\.tuid))
            #expect(!saved.isEmpty && !saved.contains(refused))
            #expect(saved.allSatisfy { $0 < refused }, "only chunks before the refused one")
            #expect(saved.count % 5 == 0, "whole chunks")

            try Database(path: path).execute("DROP TRIGGER refuse")
            #expect(await run.runCycle().errors == 0)
            #expect(Set(try await store.devices(dryRun: false).map(\.tuid)) == Set(fleet))
            try await expectFiringsMatchState(store)
        }
    }

    @Test func aFailedPollNeitherFiresNorResetsAnything() async throws {
        let sim = try await SimulatorHarness.start()
        let store = try SQLiteStore(path: temporaryDatabase())
        let rules = """
            rule warm: when temp > -100 then log "{tuid} {temp}"
            rule low-battery: when battery below 20 then move to quarantine
            """
        let run = try scheduler(sim, store: store, rules: rules) { $0.refresh = 3600 }
        let first = await run.runCycle()
        #expect(first.firings > 0)
        let states = try await store.ruleStates(dryRun: false)
        let devices = try await store.devices(dryRun: false)
        let actions = try await store.actions().count

        await sim.stop()
        let outage = await run.runCycle()
        #expect(outage.failedDevices == outage.devices)
        #expect(outage.firings == 0)
        #expect(try await store.ruleStates(dryRun: false).map(\.state) == states.map(\.state))
        #expect(try await store.devices(dryRun: false).map(\.observations) == devices.map(\.observations))
        #expect(try await store.actions().count == actions)
    }
}
