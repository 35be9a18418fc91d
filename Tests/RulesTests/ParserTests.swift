import TestSupport
import Testing

@testable import Rules

@Suite struct ParserTests {
    func diagnostics(_ text: String, file: String = "t.rules") -> [String] {
        RuleSet.parse(file: file, text: text).1.map(\.description)
    }

    @Test func parsesBlockAndOneLineFormsWithEveryArrow() {
        let text = """
            rule low-battery
              when battery below 20
              then move to quarantine
            rule a: when temp > 8 -> log "x"
            rule b when not (temp <= -1.5 or hall is not 1) and alert "gateway connection lost" for 1h → assign group g-1
            rule c when moveCount >= 3 for 2 reports then send command 13200 threshold=150 mode=1 cooldown 1d repeat every 10m max 3 mode shadow
            rule d on TSPD04ESY93100802, TSPD04ESY93100803 in group cold_chain, x when status is installed then log "y"
            """
        let (set, diagnostics) = RuleSet.parse(file: "t.rules", text: text)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(set.rules.map(\.name) == ["low-battery", "a", "b", "c", "d"])
        let b = set.rules[2].syntax
        #expect(b.condition?.text == #"not (temp <= -1.5 or hall != 1) and alert "gateway connection lost""#)
        #expect(b.hold == .duration(3600))
        #expect(b.actions == [.assignGroup("g-1")])
        let c = set.rules[3].syntax
        #expect(c.hold == .reports(2))
        #expect(
            c.actions == [
                .sendCommand(
                    tsmId: 13200, parameters: [.init(name: "threshold", value: 150), .init(name: "mode", value: 1)])
            ])
        #expect(c.cooldown == 86400 && c.repeatEvery == 600 && c.repeatMax == 3 && c.mode == .shadow)
        let d = set.rules[4]
        #expect(d.tuids == ["TSPD04ESY93100802", "TSPD04ESY93100803"])
        #expect(d.groups == ["cold_chain", "x"])
        #expect(set.rules[0].location == SourceLocation(file: "t.rules", line: 1, column: 1))
    }

    @Test func goldenDiagnostics() {
        let text = """
            rule one
              when status is quarantne
              then move to retird
            rule two when temp > 8 for 1x then send command 1600 reportInterval=1
            rule three: when batery < 5 then send command 1500 reportIntervall=60
            rule four then log "x"
            rule five when temp > 1
            rule six when temp > 1 for h then log "no
            rule seven when temp > 1 then log "ok" cooldown 5
            rule one when temp ) 3 then log "dup"
            """
        #expect(
            diagnostics(text) == [
                "t.rules:2:8: error: unknown status `quarantne`\n  hint: did you mean `quarantine`?",
                "t.rules:3:16: error: unknown status `retird`\n  hint: did you mean `retired`?",
                "t.rules:4:28: error: malformed duration `1x`\n  hint: a duration is whole numbers followed by s, m, h or d, e.g. `30m` or `1h30m`",
                "t.rules:4:49: error: command id 1600 is not one of 1500, 1501, 12200, 13200\n  hint: did you mean `1500`?",
                "t.rules:5:18: error: unknown field `batery`\n  hint: did you mean `battery`?",
                "t.rules:5:52: error: command 1500 takes no parameter `reportIntervall`\n  hint: did you mean `reportInterval`?",
                "t.rules:6:1: error: rule `four` has no `when` clause\n  hint: add `when CONDITION`",
                "t.rules:7:1: error: rule `five` has no `then` clause\n  hint: add `then ACTION` (or `-> ACTION`)",
                "t.rules:8:28: error: malformed duration `h`\n  hint: a duration is whole numbers followed by s, m, h or d, e.g. `30m` or `1h30m`",
                "t.rules:8:39: error: unterminated string\n  hint: close the string with `\"` on the same line",
                "t.rules:9:49: error: malformed duration `5`\n  hint: a duration is whole numbers followed by s, m, h or d, e.g. `30m` or `1h30m`",
                "t.rules:10:15: error: expected a condition, found the value `temp`\n  hint: compare it, e.g. `temp > 0`",
            ])
    }

    @Test func duplicateNamesAcrossFilesPointAtTheFirst() {
        let (_, diagnostics) = RuleSet.parse(sources: [
            (file: "a.rules", text: "rule x when temp > 1 then log \"a\""),
            (file: "b.rules", text: "\n  rule  x when temp > 2 then log \"b\""),
        ])
        #expect(
            diagnostics.map(\.description) == [
                "b.rules:2:9: error: duplicate rule name `x`\n  hint: first defined at a.rules:1:1"
            ])
    }

    @Test func columnsCountCharactersNotBytes() {
        let d = diagnostics("rule é → log \"°°\" , move to nowhere when temp > 1")
        #expect(
            d == [
                "t.rules:1:29: error: unknown status `nowhere`\n  hint: statuses are `new`, `installed`, `uninstalled`, `quarantine`, `retired`"
            ])
    }

    @Test func theVocabularyIsClosed() {
        #expect(
            diagnostics("field pressureDelta\nrule r when pressureDelta > 1 and in > 3 and out < 2 then log \"{tuid} {pressureDelta}\"")
                .isEmpty)
        #expect(
            diagnostics("rule r when Temp > 1 then log \"x\"") == [
                "t.rules:1:13: error: unknown field `Temp`\n  hint: did you mean `temp`?"
            ])
    }

    @Test func warningsDoNotDropTheRuleButErrorsDo() {
        let (set, diagnostics) = RuleSet.parse(
            file: "t.rules",
            text: """
                rule ok when battery < 5 then log "{batery}"
                rule bad when status is nope then log "e"
                """)
        #expect(set.rules.map(\.name) == ["ok"])
        #expect(diagnostics.map(\.severity) == [.warning, .error])
        #expect(diagnostics.hasErrors)
    }

    @Test func recoveryReportsEveryClauseProblemOfOneRule() {
        let d = diagnostics("rule r when temp > then move to x cooldown 2y repeat every 5m max many")
        #expect(d.count == 4, "\(d)")
        #expect(d[0].hasPrefix("t.rules:1:20: error: expected a value, found `then`"))
        #expect(d[1].hasPrefix("t.rules:1:33: error: unknown status `x`"))
        #expect(d[2].hasPrefix("t.rules:1:44: error: malformed duration `2y`"))
        #expect(d[3].hasPrefix("t.rules:1:67: error: expected a whole number after `max`, found `many`"))
    }

    @Test func needsTellTheSchedulerWhatToFetch() {
        let (set, _) = RuleSet.parse(
            file: "t.rules",
            text: """
                rule a when battery < 20 then move to quarantine
                rule b when alert "gateway connection lost" for 1h then log "{tuid} {temp}"
                rule c in group g when firmware is "1.2" and carbonDioxide > 1 then assign group h
                """)
        let a = set.rules[0].needs, b = set.rules[1].needs, c = set.rules[2].needs
        #expect(a.usesStatus && a.usesThingInfo && !a.usesAlerts && a.messageFields == ["batl"])
        #expect(
            b.usesAlerts && !b.usesStatus && b.messageFields == ["temp"] && b.alertTypes == ["gateway connection lost"])
        #expect(c.usesGroup && c.usesThingInfo && c.messageFields == ["carbonDioxide"])
        #expect(set.needs.messageFields == ["batl", "carbonDioxide", "temp"])
    }

    /// Random token soup must never crash the parser: every input parses or yields diagnostics.
    @Test func randomTokenStreamsNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED)
        let vocabulary = [
            "rule", "r", "x", "when", "then", "clear", "for", "reports", "cooldown", "repeat", "every", "max", "mode",
            "shadow", "off", "in", "group", "on", "and", "or", "not", "(", ")", "alert", "\"gateway connection lost\"",
            "\"open", "battery", "below", "above", "is", "status", "installed", "quarantine", ">", "<=", "==", "!=",
            "->", "→", ":", ",", "=", "20", "-3.5", "1h", "1x", "h", "move", "to", "send", "command", "1500",
            "reportInterval=60", "assign", "log", "\"{tuid}\"", "#c\n", "\n", "@", "!", "TSPD04ESY93100802", "temp",
        ]
        for _ in 0..<2000 {
            let count = Int(rng.next() % 30)
            let text = (0..<count).map { _ in vocabulary[Int(rng.next() % UInt64(vocabulary.count))] }
                .joined(separator: rng.next() % 4 == 0 ? "" : " ")
            let (set, diagnostics) = RuleSet.parse(file: "f.rules", text: text)
            let declared = text.components(separatedBy: "rule").count - 1
            #expect(!set.rules.isEmpty || !diagnostics.isEmpty || declared == 0, "\(text)")
            for d in diagnostics { #expect(d.line >= 1 && d.column >= 1) }
        }
    }
}
