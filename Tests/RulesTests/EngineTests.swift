import Foundation
import Testing

@testable import Rules

let tuid = "TSPD04ESY93100802"

func msg(_ ts: Int64, _ values: KeyValuePairs<String, Double>, id: Int = 12100, ev: Int = 10) -> Message {
    Message(tsmId: id, tsmEv: ev, tsmTs: ts, tsmTuid: tuid, values: values)
}

/// One device on a virtual clock.
struct Harness {
    var engine: Engine
    var obs: DeviceObservations
    var states: [RuleState]

    init(_ text: String, obs: DeviceObservations = DeviceObservations(status: "installed", group: "g", alerts: [])) {
        let (set, diagnostics) = RuleSet.parse(file: "t.rules", text: text)
        precondition(!diagnostics.hasErrors, "\(diagnostics)")
        engine = Engine(set)
        self.obs = obs
        states = engine.initialStates()
    }

    /// Evaluates at `now` and returns the emitted actions as text (`would` for shadow).
    mutating func run(_ now: Int64, _ messages: [Message] = []) -> [String] {
        engine.evaluate(tuid: tuid, observations: &obs, newMessages: messages, states: &states, now: now)
            .flatMap { f in f.actions.map { (f.shadow ? "would " : "") + $0.description } }
    }

    /// Saves and restores everything through JSON, as a restarted scheduler does.
    mutating func restart() throws {
        obs = try JSONDecoder().decode(DeviceObservations.self, from: JSONEncoder().encode(obs))
        states = try JSONDecoder().decode([RuleState].self, from: JSONEncoder().encode(states))
        engine = Engine(engine.ruleSet)
    }
}

@Suite struct EngineTests {
    static let log = ["log \"x\""]

    @Test func sampleAndHoldKeepsEachFieldsLatestValue() {
        var h = Harness("rule r when temp > 8 and humd > 50 then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == [])
        #expect(h.run(60, [msg(60, ["humd": 60])]) == Self.log)
        #expect(h.obs.latest("temp")?.time == 0)
    }

    @Test func outOfOrderAndDuplicateMessages() {
        var h = Harness("rule r when batl < 20 then log \"x\"")
        // Sorted by tsmTs: the newest (50) wins although it came first.
        #expect(h.run(100, [msg(20, ["batl": 50], id: 1110), msg(10, ["batl": 10], id: 1110)]) == [])
        // Older than what is held: ignored.
        #expect(h.run(200, [msg(15, ["batl": 5], id: 1110)]) == [])
        #expect(h.obs.latest("batl")?.value == .number(50))

        var r = Harness("rule r when temp > 8 for 3 reports then log \"x\"")
        let m = msg(10, ["temp": 9])
        #expect(r.run(10, [m, m, msg(20, ["temp": 9])]) == [])
        #expect(r.states[0].reportsInARow == 2)
        // Re-delivered in a later batch: still a duplicate.
        #expect(r.run(30, [msg(20, ["temp": 9])]) == [])
        #expect(r.run(40, [msg(40, ["temp": 9])]) == Self.log)
    }

    @Test(arguments: [
        // (thing info battery_level, batl messages, fires)
        (Double?.some(10), [Double](), true),
        (Double?.some(10), [50], false),
        (Double?.some(50), [10], true),
        (Double?.none, [], false),
    ])
    func batteryFallsBackToThingInfo(level: Double?, batl: [Double], fires: Bool) {
        var h = Harness(
            "rule r when battery below 20 then move to quarantine",
            obs: DeviceObservations(status: "installed", batteryLevel: level))
        let messages = batl.enumerated().map { msg(Int64($0.offset), ["batl": $0.element], id: 1110) }
        #expect(h.run(100, messages) == (fires ? ["move to quarantine"] : []))
    }

    @Test func silenceIsTimeSinceTheNewestMessage() {
        var h = Harness("rule r when silence > 2h then log \"{tuid} {silence}\"")
        #expect(h.run(0) == [])  // never heard from: unknown
        #expect(h.run(100, [msg(100, ["temp": 1])]) == [])
        #expect(h.run(100 + 7200) == [])
        #expect(h.run(100 + 7201) == ["log \"\(tuid) 2h1s\""])
    }

    @Test func alertIsTrueWhileAnEpisodeIsOpen() {
        var h = Harness("rule r when alert \"gateway connection lost\" then log \"x\"")
        h.obs.alerts = [AlertEpisode(type: "gateway connection lost", from: 100, to: 200)]
        #expect(h.run(50) == [])
        #expect(h.run(150) == Self.log)
        #expect(h.run(200) == [])  // closed at `to`
        h.obs.alerts = [AlertEpisode(type: "gateway connection lost", from: 300)]
        #expect(h.run(400) == Self.log)
        h.obs.alerts = nil  // not fetched: unknown, which is not true, so the episode ends
        #expect(h.run(500) == [])
        #expect(h.states[0].phase == .inactive)
    }

    @Test(arguments: [
        ("temp > 8 or humd > 50", Truth.yes),
        ("temp > 8 and humd > 50", .unknown),
        ("temp < 8 and humd > 50", .no),
        ("not humd > 50", .unknown),
        ("not (temp < 8 and humd > 50)", .yes),
        ("temp < 8 or humd > 50", .unknown),
    ])
    func unknownPropagatesThroughThreeValuedLogic(condition: String, expected: Truth) {
        var h = Harness("rule r when \(condition) then log \"x\"")
        h.engine.ingest([msg(0, ["temp": 9])], into: &h.obs)
        let explanation = h.engine.explain(rule: 0, tuid: tuid, observations: h.obs, state: h.states[0], now: 0)
        #expect(explanation.condition == expected)
    }

    @Test func unknownIsNotTrue() {
        var h = Harness("field co\nrule r when temp > 8 and co > 1 then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9, "co": 2])]) == Self.log)
        // A firing rule whose condition becomes unknown (not true) resolves, so it can fire again later.
        var h2 = Harness("field co, other\nrule r when temp > 8 and other > 1 then log \"x\"")
        h2.states = h.states
        h2.obs = h.obs
        #expect(h2.run(60, [msg(60, ["temp": 10])]) == [])
        #expect(h2.states[0].phase == .inactive)
        // And a fresh pair with an unknown condition does not fire.
        h2.states = h2.engine.initialStates()
        #expect(h2.run(120) == [])
        #expect(h2.states[0].phase == .inactive)
    }

    @Test func pollFailureNeitherFiresNorResets() {
        var h = Harness("rule r when temp > 8 then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == Self.log)
        let before = (h.obs, h.states)
        h.obs.pollFailed = true
        #expect(h.run(60, [msg(60, ["temp": 1])]) == [])
        h.obs.pollFailed = false
        #expect(h.obs == before.0 && h.states == before.1)
        #expect(h.run(120, [msg(60, ["temp": 9])]) == [])  // still firing: not a second firing
    }

    @Test func forDurationIsMeasuredOnDeviceTimeAndSurvivesARestart() throws {
        var h = Harness("rule r when temp > 8 for 30m then log \"x\"")
        // Messages fetched late: the condition has held since device time 600.
        #expect(h.run(1200, [msg(0, ["temp": 4]), msg(600, ["temp": 9]), msg(1200, ["temp": 9.5])]) == [])
        #expect(h.states[0].phase == .pending && h.states[0].holdingSince == 600)
        try h.restart()
        #expect(h.run(2399) == [])
        #expect(h.run(2400) == Self.log)
        // A scheduler started late fires at once.
        var late = Harness("rule r when temp > 8 for 30m then log \"x\"")
        #expect(late.run(10_000, [msg(600, ["temp": 9])]) == Self.log)
        // A dip between evaluations restarts the clock.
        var dip = Harness("rule r when temp > 8 for 30m then log \"x\"")
        #expect(dip.run(2400, [msg(0, ["temp": 9]), msg(1000, ["temp": 5]), msg(1500, ["temp": 9])]) == [])
        #expect(dip.run(3300) == Self.log)
    }

    @Test func anAlertEpisodeBetweenEvaluationsDoesNotFire() {
        var h = Harness("rule r when alert \"gateway connection lost\" for 1h then log \"x\"")
        h.obs.alerts = [AlertEpisode(type: "gateway connection lost", from: 100, to: 5000)]
        #expect(h.run(9000) == [])
        h.obs.alerts!.append(AlertEpisode(type: "gateway connection lost", from: 9500))
        #expect(h.run(10_000) == [])
        #expect(h.run(9500 + 3600) == Self.log)
    }

    @Test func firesOnceAndReArmsAfterFalse() {
        var h = Harness("rule r when temp > 8 then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == Self.log)
        #expect(h.run(60, [msg(60, ["temp": 10])]) == [])
        #expect(h.run(120, [msg(120, ["temp": 1])]) == [])
        #expect(h.run(180, [msg(180, ["temp": 9])]) == Self.log)
        #expect(h.states[0].sequence == 2)
    }

    @Test func clearWhenGivesHysteresis() {
        var h = Harness("rule r when temp > 8 clear when temp < 6 then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == Self.log)
        #expect(h.run(60, [msg(60, ["temp": 7])]) == [])
        #expect(h.run(120, [msg(120, ["temp": 9])]) == [])
        #expect(h.run(180, [msg(180, ["temp": 5])]) == [])
        #expect(h.states[0].phase == .inactive)
        #expect(h.run(240, [msg(240, ["temp": 9])]) == Self.log)
    }

    @Test func cooldownDelaysTheNextFiring() {
        var h = Harness("rule r when temp > 8 then log \"x\" cooldown 1h")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == Self.log)
        #expect(h.run(60, [msg(60, ["temp": 1])]) == [])
        #expect(h.run(120, [msg(120, ["temp": 9])]) == [])
        #expect(h.states[0].phase == .pending)
        #expect(h.run(3599) == [])
        #expect(h.run(3600) == Self.log)
    }

    @Test func repeatEveryStopsAtMax() {
        var h = Harness("rule r when temp > 8 then log \"x\" repeat every 10m max 2")
        var fired: [Int64] = []
        for t in stride(from: Int64(0), through: 3600, by: 60)
        where !h.run(t, t == 0 ? [msg(0, ["temp": 9])] : []).isEmpty {
            fired.append(t)
        }
        #expect(fired == [0, 600, 1200])
        #expect(h.states[0].sequence == 3 && h.states[0].repeatsDone == 2)
    }

    @Test func shadowMarksFiringsAndOffSkips() {
        var h = Harness(
            """
            rule s when temp > 8 then move to quarantine mode shadow
            rule o when temp > 8 then log "off" mode off
            """)
        #expect(h.run(0, [msg(0, ["temp": 9])]) == ["would move to quarantine"])
        #expect(h.states[1] == RuleState())
    }

    @Test(arguments: [
        ("in group prfi00coldchain", "prfi00coldchain", true),
        ("in group prfi00coldchain", "office", false),
        ("in group a, b", "b", true),
        ("on TSPD04ESY93100802", "office", true),
        ("on TSPD04ESY93100999", "office", false),
        ("on TSPD04ESY93100999 in group office", "office", true),
    ])
    func scopeLimitsDevices(scope: String, group: String, fires: Bool) {
        var h = Harness("rule r \(scope) when temp > 8 then log \"x\"", obs: DeviceObservations(group: group))
        #expect(h.run(0, [msg(0, ["temp": 9])]) == (fires ? Self.log : []))
    }

    @Test func logPlaceholdersAndFiringKeys() {
        var h = Harness(
            "rule r when temp > 8 then log \"{tuid} {temp} {humd} {status} {battery}\", send command 1500 reportInterval=60"
        )
        let firings = h.engine.evaluate(
            tuid: tuid, observations: &h.obs, newMessages: [msg(0, ["temp": 9.25])], states: &h.states, now: 5)
        #expect(firings.count == 1)
        #expect(firings[0].idempotencyKey == "r:\(tuid):1" && firings[0].time == 5)
        #expect(
            firings[0].actions == [
                .log("\(tuid) 9.25 ? installed ?"),
                .sendCommand(tsmId: 1500, parameters: [.init(name: "reportInterval", value: 60)]),
            ])
    }

    @Test func explainShowsValuesStateAndWhenItWouldFire() {
        var h = Harness("rule r in group g when temp > 8 and status is installed for 30m then log \"x\" cooldown 6h")
        _ = h.run(1_700_000_600, [msg(1_700_000_000, ["temp": 9])])
        let e = h.engine.explain(rule: "r", tuid: tuid, observations: h.obs, state: h.states[0], now: 1_700_000_600)!
        #expect(e.firesAt == 1_700_001_800)
        #expect(
            e.description == """
                rule r for \(tuid) at 2023-11-14T22:23:20Z
                  when: true
                    temp > 8: true (temp = 9 at 2023-11-14T22:13:20Z)
                    status == installed: true (status = installed)
                  state: pending since 2023-11-14T22:23:20Z
                  condition holding since 2023-11-14T22:13:20Z
                  would fire at 2023-11-14T22:43:20Z: condition has held since 2023-11-14T22:13:20Z, needs 30m
                """)
        var office = h.obs
        office.group = "office"
        #expect(
            h.engine.explain(rule: 0, tuid: tuid, observations: office, state: h.states[0], now: 0).verdict
                == "not evaluated: out of scope (in group g)")
        let unknown = h.engine.explain(
            rule: 0, tuid: tuid, observations: DeviceObservations(group: "g"), state: RuleState(), now: 0)
        #expect(unknown.verdict == "does not fire: condition unknown (`temp > 8`, `status == installed`)")
    }

    @Test func fixtureFailuresShowAReadableDiff() {
        let fixture = """
            rules r.rules
            device \(tuid) status installed
            at 0 msg \(tuid) 1110 batl=10
            at 0 expect \(tuid) move to retired
            """
        let result = RuleTestRunner.run(fixture: "dir/r.test", text: fixture) { path in
            #expect(path == "dir/r.rules")
            return "rule low when battery below 20 then move to quarantine"
        }
        #expect(!result.passed)
        #expect(
            result.description == """
                dir/r.test:4: at 0s: actions differ
                  - \(tuid) move to retired
                  + \(tuid) move to quarantine
                  (- expected but not emitted, + emitted but not expected)
                """)
        let broken = RuleTestRunner.run(fixture: "r.test", text: "rules r.rules\nat 5m msg NOPE 1110 batl=1\nat x") {
            _ in ""
        }
        #expect(
            broken.diagnostics.map(\.description) == [
                "r.test:2:11: error: device NOPE is not declared\n  hint: declare it first: `device NOPE status installed`",
                "r.test:3:4: error: expected a time such as `10m` or `0`, found `x`\n  hint: times are seconds after `start`, written `90s`, `10m`, `1h30m`, `1d` or `0`",
            ])
    }
}

@Suite struct FieldMatchingTests {
    /// Property names are matched to the rules' fields by packed keys up to 15 ASCII bytes and as strings beyond:
    /// both paths, and the boundary between them, find the field.
    @Test func namesOfEveryLengthAndScriptReachTheirField() {
        for name in ["t", "temp", "fifteenBytes123", "sixteenBytes1234", "aMuchLongerFieldNameThanThat", "lämpö"] {
            var h = Harness("field \(name)\nrule r when \(name) > 8 then log \"x\"")
            #expect(h.run(0, [msg(0, [name: 9])]) == EngineTests.log, "\(name)")
        }
        // A name that shares the first 15 bytes with a field is another field.
        var h = Harness("field sixteenBytes1234\nrule r when sixteenBytes1234 > 8 then log \"x\"")
        #expect(h.run(0, [msg(0, ["sixteenBytes123": 9, "sixteenBytes12345": 9])]) == [])
        #expect(FieldKey("abc") != FieldKey("abc\u{0}"))
        #expect(FieldKey("") == .none && FieldKey("lämpö") == .none && FieldKey("sixteenBytes1234") == .none)
    }
}
