import Foundation
import Testing
@testable import ThingseeKit

@testable import Rules

private func problems(_ text: String, lookback: Int64? = 86400) -> [String] {
    RuleSet.parse(file: "t.rules", text: text, lookback: lookback).1.map(\.description)
}

/// The fixtures of issue 11's bugs, each failing on the first version of the engine.
@Suite struct SemanticFixtureTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    @Test(arguments: [
        "late-report", "or-unknown", "unknown-for", "future-clock", "never-heard", "alert-from",
    ])
    func fixturePasses(_ name: String) throws {
        let file = Self.directory.appendingPathComponent(name + ".test")
        let result = RuleTestRunner.run(
            fixture: file.path, text: try String(contentsOf: file, encoding: .utf8),
            load: { try String(contentsOfFile: $0, encoding: .utf8) })
        #expect(result.passed, "\(result)")
    }

    @Test(arguments: [
        "start 99999999999999999999", "at 0 msg TSPD04ESY93100802 1e30 temp=1",
        "at 0 msg TSPD04ESY93100802 12100 ev 99999999999999999999 temp=1", "at 99999999999999999999d restart",
    ])
    func hugeNumbersInFixturesAreDiagnostics(_ line: String) {
        let fixture = "rules r.rules\ndevice TSPD04ESY93100802\n" + line
        let result = RuleTestRunner.run(fixture: "f.test", text: fixture, load: { _ in "rule r when temp > 1 then log \"x\"" })
        #expect(result.diagnostics.hasErrors)
    }

    @Test func actionsOfOneFiringAreComparedInOrder() {
        let rules = "rule r when temp > 8 then log \"a\", log \"b\""
        let fixture = """
            rules r.rules
            device TSPD04ESY93100802
            at 0 msg TSPD04ESY93100802 12100 temp=9
            at 0 expect TSPD04ESY93100802 log "b"
            at 0 expect TSPD04ESY93100802 log "a"
            """
        let result = RuleTestRunner.run(fixture: "f.test", text: fixture, load: { _ in rules })
        #expect(!result.passed)
        #expect(result.failures.first?.note != nil)
    }
}

@Suite struct CheckTests {
    @Test(arguments: [
        ("batery", "battery"), ("temperature", "temp"), ("co2", "carbonDioxide"), ("battery_level", "battery"),
    ])
    func unknownFieldsAreErrorsWithDidYouMean(written: String, meant: String) {
        let d = problems("rule r when \(written) below 20 then move to quarantine")
        #expect(d.count == 1)
        #expect(d.first?.contains("error: unknown field `\(written)`") == true)
        #expect(d.first?.contains("did you mean `\(meant)`?") == true)
    }

    @Test func durationsComparedWithBareNumbersAreErrors() {
        let d = problems("rule r when silence > 2 then log \"x\"")
        #expect(d.count == 1)
        #expect(d[0].contains("error: `silence` is a duration"))
        #expect(d[0].contains("hint: give the unit: `2s`, `2m`, `2h` or `2d`"))
    }

    @Test func textComparedWithANumberIsAnError() {
        let d = problems("rule r when firmware == 2.10 then log \"x\"")
        #expect(d.count == 1)
        #expect(d[0].contains("firmware is text: write \\\"2.10\\\"") || d[0].contains("firmware is text: write \"2.1\""))
    }

    @Test func anActionWithoutThenSaysSo() {
        let d = problems("rule r\n  when battery below 20\n  move to quarantine")
        #expect(d.contains { $0.contains("`move` starts an action, but no `then` comes before it") })
        #expect(!d.contains { $0.contains("did you mean `mode`") })
    }

    @Test func inGroupAtTheEndOfALineDoesNotSwallowWhen() {
        let d = problems("rule r\n  in group\n  when battery below 20\n  then log \"x\"")
        #expect(d.first?.hasPrefix("t.rules:3:3: error: expected a group id after `in group`, found `when`") == true)
        #expect(!d.contains { $0.contains("no `when` clause") })
    }

    @Test func undocumentedAlertTypesAndLongWindowsAreWarnings() {
        let (set, d) = RuleSet.parse(
            file: "t.rules",
            text: "rule r when alert \"gateway conection lost\" and avg(temp, 48h) > 5 then log \"x\"", lookback: 86400)
        #expect(set.rules.count == 1)
        #expect(d.map(\.severity) == [.warning, .warning])
        #expect(d[0].hint == "did you mean \"gateway connection lost\"?")
        #expect(d[1].message.contains("look-back (1d)"))
        #expect(RuleSet.parse(file: "t.rules", text: "rule r when avg(temp, 48h) > 5 then log \"x\"", lookback: 3 * 86400).1
            .isEmpty)
    }

    @Test(arguments: [
        "rule r when temp > 1 for 99999999999999999999 reports then log \"x\"",
        "rule r when silence > 106751991167300d then log \"x\"",
        "rule r when temp > 1 then log \"x\" cooldown 106751991167300d",
        "rule r when temp > 1 then log \"x\" cooldown 999999999999999999999999d",
        "rule r when temp > 1 for 2 of 99999999999 reports then log \"x\"",
        "rule r when temp > 1 then log \"x\" repeat every 1m max 99999999999999999999",
    ])
    func hugeNumbersAreCheckErrors(_ text: String) {
        let (set, d) = RuleSet.parse(file: "t.rules", text: text)
        #expect(set.rules.isEmpty)
        #expect(d.contains { $0.severity == .error && ($0.message.contains("100 years") || $0.message.contains("1,000,000") || $0.message.contains("too many")) }, "\(d)")
    }

    @Test func everyProblemInOnePass() {
        let d = problems(
            """
            rule a when batery < 5 then log "x"
            rule b when silence > 2 then move to quarantne
            rule c when temp > 1 then send command 1500 reportIntervall=5
            """)
        #expect(d.count == 4, "\(d)")
    }

    @Test func twentyThousandNestedParenthesesEndWithOneDiagnostic() {
        let text = "rule r when " + String(repeating: "(", count: 20_000) + "temp > 1"
            + String(repeating: ")", count: 20_000) + " then log \"x\""
        let d = RuleSet.parse(file: "t.rules", text: text).1
        #expect(d.count == 1)
        #expect(d[0].message == "nesting deeper than 256")
        let deepNot = "rule r when " + String(repeating: "not ", count: 20_000) + "temp > 1 then log \"x\""
        #expect(RuleSet.parse(file: "t.rules", text: deepNot).1.map(\.message) == ["nesting deeper than 256"])
        // 250 levels are allowed, and evaluate on an ordinary thread.
        let allowed = "rule r when " + String(repeating: "not ", count: 250) + "temp > 1 then log \"x\""
        var h = Harness(allowed)
        #expect(h.run(0, [msg(0, ["temp": 2])]) == ["log \"x\""])
        let deepMinus = "rule r when " + String(repeating: "-", count: 20_000) + "temp > 1 then log \"x\""
        #expect(RuleSet.parse(file: "t.rules", text: deepMinus).1.map(\.message) == ["nesting deeper than 256"])
    }

    @Test func aLongConditionIsFlatNotDeep() {
        let text = "rule r when " + Array(repeating: "temp > 1", count: 50_000).joined(separator: " and ")
            + " then log \"x\""
        let (set, d) = RuleSet.parse(file: "t.rules", text: text)
        #expect(d.isEmpty)
        var h = Harness(text)
        #expect(h.run(0, [msg(0, ["temp": 2])]) == ["log \"x\""])
        #expect(set.rules.count == 1)
    }

    @Test func aLargeGeneratedFileEndsWithBoundedDiagnostics() {
        var text = ""
        text.reserveCapacity(2_100_000)
        var i = 0
        while text.utf8.count < 2_000_000 {
            text += "rule r\(i) when batery < \(i) and temp > 1 then move to quarantine\n"
            i += 1
        }
        let d = RuleSet.parse(file: "big.rules", text: text).1
        #expect(d.count == Parser.maxDiagnostics + 1)
        #expect(d.last?.message.hasPrefix("too many problems: showing the first 1000 of \(i)") == true)
    }

    @Test func notifyTargetsAreURLsOrNames() {
        #expect(problems("rule r when temp > 1 then notify ops").isEmpty)
        #expect(problems("rule r when temp > 1 then notify \"https://hooks.example.com/x\"").isEmpty)
        #expect(problems("rule r when temp > 1 then notify \"http://127.0.0.1:9000/x\"").isEmpty)
        #expect(problems("rule r when temp > 1 then notify \"http://hooks.example.com/x\"").count == 1)
        #expect(problems("rule r when temp > 1 then notify \"ftp://x\"").count == 1)
    }

    @Test func theV2GrammarParses() {
        let text = """
            timezone "Europe/Helsinki"
            field pressureTrend, note
            rule battery-draining:  when delta(batl, 24h) < -5 for 2 of 3 reports → notify ops
            rule people-imbalance:  when in - out > 50 -> log "{tuid}: {in} in, {out} out"
            rule stuffy-office
              in group prfi00officehq
              when carbonDioxide > 1200 and weekday in (mon, tue, wed, thu, fri) and hour between 8 and 17 for 20m
              clear after 15m
              then notify ops
              resolve notify ops
              severity warning
            rule gateway-silent:    when kind is gateway and silence > 6h → notify "https://hooks.example.com/x"
            rule old-firmware:      when firmware < "2020.1" and firmware contains "pod3" → log "{tuid} runs {firmware}"
            rule hyphen: when kind in ("air-quality", "people-counter") and absent temp for 1h30m then log "x"
            rule arith: when -(temp * 2) + 3 / 4 >= -10 and mode == 1 and note == "x" then log "y"
            rule clear-for: when temp > 8 clear when temp < 6 for 10m then log "z"
            """
        let (set, d) = RuleSet.parse(file: "t.rules", text: text)
        #expect(d.isEmpty, "\(d)")
        #expect(set.rules.count == 8)
        #expect(set.rules[0].hold == .reportsOf(2, 3))
        #expect(set.rules[2].severity == .warning)
        #expect(set.rules[5].hold == .duration(5400))
    }
}

@Suite struct EngineV2Tests {
    @Test func versionOrderBetweenTexts() {
        #expect(Evaluator.versionOrder("2019.11.15.2", "2020.1") < 0)
        #expect(Evaluator.versionOrder("2.10", "2.9") > 0)
        #expect(Evaluator.versionOrder("2.1", "2.1.0") == 0)
        var h = Harness(
            "rule r when firmware < \"2020.1\" then log \"old\"",
            obs: DeviceObservations(firmware: "2019.11.15.2", alerts: []))
        #expect(h.run(0) == ["log \"old\""])
    }

    @Test func hourBetweenWrapsAround() {
        // 1700000000 is 22:13 UTC.
        var h = Harness("rule r when hour between 22 and 6 and temp > 0 then log \"night\"")
        #expect(h.run(1_700_000_000, [msg(1_700_000_000, ["temp": 1])]) == ["log \"night\""])
        var d = Harness("rule r when hour between 8 and 17 and temp > 0 then log \"day\"")
        #expect(d.run(1_700_000_000, [msg(1_700_000_000, ["temp": 1])]) == [])
    }

    @Test func divisionByZeroIsUnknown() {
        var h = Harness("rule r when temp / humd > 1 or temp > 100 then log \"x\"")
        _ = h.run(0, [msg(0, ["temp": 5, "humd": 0])])
        let e = h.engine.explain(rule: 0, tuid: tuid, observations: h.obs, state: h.states[0], now: 0)
        #expect(e.tests[0].value == .unknown)
    }

    @Test func firingsCarryIndexTransitionSeverityAndValues() {
        let (set, _) = RuleSet.parse(
            file: "t.rules",
            text: """
                rule other when temp > 100 then log "no"
                rule r when avg(temp, 1h) > 8 then log "x" resolve log "over" severity critical
                """)
        let engine = Engine(set)
        var obs = DeviceObservations(alerts: [])
        var states = engine.initialStates()
        let fired = engine.evaluate(
            tuid: tuid, observations: &obs, newMessages: [msg(0, ["temp": 9]), msg(60, ["temp": 11])],
            states: &states, now: 60)
        #expect(fired.count == 1)
        #expect(fired[0].ruleIndex == 1)
        #expect(fired[0].transition == .firing)
        #expect(fired[0].severity == .critical)
        #expect(fired[0].values == ["avg(temp, 1h)": "10"])
        let over = engine.evaluate(
            tuid: tuid, observations: &obs, newMessages: [msg(7000, ["temp": 1])], states: &states, now: 7000)
        #expect(over.map(\.transition) == [.resolved])
        #expect(over[0].sequence == fired[0].sequence)
        #expect(over[0].actions == [.log("over")])
        #expect(over[0].idempotencyKey == "r:\(tuid):1:resolved")
        let decoded = try? JSONDecoder().decode(Firing.self, from: JSONEncoder().encode(over[0]))
        #expect(decoded == over[0])
    }

    @Test func windowsSurviveARestartAndStayBounded() throws {
        var h = Harness("rule r when count(temp, 1d) >= 3 then log \"three\"")
        #expect(h.run(100, [msg(100, ["temp": 1]), msg(200, ["temp": 1])]) == [])
        try h.restart()
        #expect(h.run(300, [msg(300, ["temp": 1])]) == ["log \"three\""])
        var many: [Message] = []
        for i in 0..<10_000 { many.append(msg(Int64(1000 + i), ["temp": 1])) }
        _ = h.run(20_000, many)
        #expect(h.obs.history.allSatisfy { $0.samples.count <= RuleSet.maxSamplesPerField })
    }

    @Test func textReportsInHistorySurviveARestart() throws {
        var h = Harness("field note\nrule r when note == \"bad\" for 2 reports then log \"x\"")
        let text = Message(tsmId: 99, tsmTs: 10, tsmTuid: tuid, strings: [StringProperty(name: "note", value: "bad")])
        #expect(h.run(10, [text]) == [])
        try h.restart()
        var again = text
        again.tsmTs = 20
        #expect(h.run(20, [again]) == ["log \"x\""])
    }

    @Test func hostileClocksNeverTrap() {
        var h = Harness("rule r when silence > 2h or delta(temp, 1h) > 1 for 3 reports then log \"x\"")
        _ = h.run(Int64.max, [msg(Int64.min, ["temp": 1]), msg(Int64.max, ["temp": .infinity])])
        _ = h.run(Int64.min, [msg(0, ["temp": -.infinity])])
        #expect(h.obs.clockErrors >= 0)
    }

    @Test func futureReportsAreClampedAndCounted() {
        var h = Harness("rule r when silence > 2h then log \"x\"")
        _ = h.run(1000, [msg(1000 + 30 * 86400, ["temp": 1])])
        #expect(h.obs.clockErrors == 1)
        #expect(h.obs.newestMessageTime == 1000)
        let e = h.engine.explain(rule: 0, tuid: tuid, observations: h.obs, state: h.states[0], now: 2000)
        #expect(e.description.contains("device clock errors: 1"))
    }

    @Test func kindsComeFromModelPrefixes() {
        #expect(DeviceKind(tuid: "TSGW01ESY93100801") == .gateway)
        #expect(DeviceKind(tuid: "TSPD04ESY93100802") == .environment)
        #expect(DeviceKind(tuid: "TSAP01ESY93100802") == .peopleCounter)
        #expect(DeviceKind(tuid: "XXXX01ESY93100802") == .unknown)
        for (prefix, _) in DeviceKind.prefixes {
            for last in ["0", "1", "4", "9", "X"] {
                let tuid = (prefix.count == 5 ? prefix + last : prefix) + "ESY93100802"
                #expect(DeviceKind(tuid: tuid) == DeviceKind.lookUp(tuid), "\(tuid)")
            }
        }
        #expect(DurationText.parse("1h30m") == .success(5400))
        #expect(DurationText.parse("99999999999999999999d") == .failure(.overflow))
        #expect(DurationText.format(Int64.min).hasPrefix("-"))
    }
}

@Suite struct LifecycleTests {
    @Test func clearAfterKeepsFiringUntilNotTrueForTheDuration() {
        var h = Harness("rule r when temp > 8 clear after 15m then log \"on\" resolve log \"off\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == ["log \"on\""])
        #expect(h.run(600, [msg(600, ["temp": 4])]) == [])
        // True again before the 15 minutes are up: the timer starts over.
        #expect(h.run(900, [msg(900, ["temp": 9])]) == [])
        #expect(h.run(1200, [msg(1200, ["temp": 4])]) == [])
        #expect(h.run(2000) == [])
        let e = h.engine.explain(rule: 0, tuid: tuid, observations: h.obs, state: h.states[0], now: 2000)
        #expect(e.resolvesAt == 2100)
        #expect(e.verdict.contains("resolves at"))
        #expect(h.run(2100) == ["log \"off\""])
        #expect(h.states[0].phase == .inactive)
    }

    @Test func clearWhenForNeedsTheClearConditionToHold() {
        var h = Harness("rule r when temp > 8 clear when temp < 6 for 10m then log \"on\" resolve log \"off\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == ["log \"on\""])
        #expect(h.run(300, [msg(300, ["temp": 5])]) == [])
        #expect(h.run(600, [msg(600, ["temp": 7])]) == [])  // 7 is neither: still firing, clear broken
        #expect(h.run(900, [msg(900, ["temp": 5])]) == [])
        #expect(h.run(1400) == [])
        #expect(h.run(1500) == ["log \"off\""])
    }

    @Test func nOfMReportsAndExplain() {
        var h = Harness("rule r when temp > 8 for 2 of 3 reports then log \"x\"")
        #expect(h.run(0, [msg(0, ["temp": 9])]) == [])
        #expect(h.run(60, [msg(60, ["temp": 1])]) == [])
        let e = h.engine.explain(rule: 0, tuid: tuid, observations: h.obs, state: h.states[0], now: 60)
        #expect(e.notes.contains { $0.contains("1 of the last 2 satisfied it (needs 2 of 3)") })
        #expect(h.run(120, [msg(120, ["temp": 9])]) == ["log \"x\""])
        // Two of the last three still hold (9, 1, 9 → 1, 9, 9): firing goes on; then 1, 1 ends it.
        #expect(h.run(180, [msg(180, ["temp": 9])]) == [])
        #expect(h.run(240, [msg(240, ["temp": 1]), msg(300, ["temp": 1])]) == [])
        #expect(h.states[0].phase == .inactive)
    }

    @Test func aFiringDependsOnlyOnItsOwnRulesState() {
        let text = """
            rule a when temp > 8 for 10m then log "a"
            rule b when temp > 8 then log "b"
            """
        var h1 = Harness(text)
        var h2 = Harness(text)
        // Rule a's state differs wildly between the two; rule b's firing must not.
        h2.states[0].phase = .firing
        h2.states[0].sequence = 41
        h2.states[0].changes = [TruthChange(time: -999, truth: .yes)]
        let f1 = h1.engine.evaluate(
            tuid: tuid, observations: &h1.obs, newMessages: [msg(0, ["temp": 9])], states: &h1.states, now: 0)
        let f2 = h2.engine.evaluate(
            tuid: tuid, observations: &h2.obs, newMessages: [msg(0, ["temp": 9])], states: &h2.states, now: 0)
        #expect(f1.filter { $0.rule == "b" } == f2.filter { $0.rule == "b" })
        #expect(h1.states[1] == h2.states[1])
    }

    @Test func savedStateOfTheFirstVersionStillDecodes() throws {
        let old = #"{"phase":"firing","phaseSince":10,"holdingSince":5,"sequence":3,"reportsInARow":0,"repeatsDone":0}"#
        let state = try JSONDecoder().decode(RuleState.self, from: Data(old.utf8))
        #expect(state.phase == .firing)
        #expect(state.sequence == 3)
        #expect(state.changes == [TruthChange(time: 5, truth: .yes)])
        let obs = #"{"pollFailed":false,"fieldNames":["temp"],"kinds":[1],"numbers":[9],"strings":[""],"times":[7],"keysAtNewest":[1]}"#
        let decoded = try JSONDecoder().decode(DeviceObservations.self, from: Data(obs.utf8))
        #expect(decoded.latest("temp")?.value == .number(9))
    }

    @Test func recentMessagesAreSavedPackedAndTheOldLayoutStillDecodes() throws {
        let (set, diagnostics) = RuleSet.parse(
            file: "t.rules", text: "rule quiet: when silence > 2h then log \"{tuid}\"\n", lookback: 86400)
        #expect(diagnostics.isEmpty)
        let engine = Engine(set)
        var obs = DeviceObservations()
        var states = engine.initialStates()
        _ = engine.evaluate(
            tuid: "T", observations: &obs, newMessages: [msg(100, ["temp": 1]), msg(200, ["temp": 2], id: 1110)],
            states: &states, now: 300)
        let saved = try JSONEncoder().encode(obs)
        let json = try #require(try JSONSerialization.jsonObject(with: saved) as? [String: Any])
        #expect(json["messages"] == nil)
        let packed = try #require(json["messageStamps"] as? String)
        #expect(Data(base64Encoded: packed)?.count == 32)
        #expect(try JSONDecoder().decode(DeviceObservations.self, from: saved) == obs)
        // The previous layout, an object per message, reads back the same.
        var old = json
        old["messageStamps"] = nil
        old["messages"] = [["time": 100, "key": 12100 << 16 | 10], ["time": 200, "key": 1110 << 16 | 10]]
        let reread = try JSONDecoder().decode(DeviceObservations.self, from: JSONSerialization.data(withJSONObject: old))
        #expect(reread == obs)
        // A damaged value is an error, not an empty history.
        old["messages"] = nil
        old["messageStamps"] = "not base64!"
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(DeviceObservations.self, from: JSONSerialization.data(withJSONObject: old))
        }
    }

    @Test func notifyActionsRoundTrip() throws {
        let actions: [Action] = [.notify(target: "ops"), .notify(target: "https://hooks.example.com/x")]
        #expect(actions.map(\.description) == ["notify ops", "notify \"https://hooks.example.com/x\""])
        #expect(try JSONDecoder().decode([Action].self, from: JSONEncoder().encode(actions)) == actions)
    }
}
