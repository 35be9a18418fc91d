import Automation
import Foundation
import Rules
import Store
import ThingseeAPI

extension CommandDefinition {
    static let rules = CommandDefinition(
        name: "rules", summary: "load, list, check, test and evaluate rule files",
        usage: "load|list|check|test|eval|explain …",
        subcommands: [.rulesLoad, .rulesList, .rulesCheck, .rulesTest, .rulesEval, .rulesExplain])

    /// The session's rule paths: what `rules load` chose, else `./rules`.
    static func rulePaths(_ inv: Invocation, _ given: [String] = []) -> [String] {
        if !given.isEmpty { return given }
        return inv.context.rulePaths ?? ["rules"]
    }

    /// Reads and parses rule files; a path that cannot be read is a usage error (exit 2).
    static func readRules(_ paths: [String]) throws -> (RuleSet, [Diagnostic], [String]) {
        do {
            return try RuleFiles.load(paths)
        } catch let error as RuleFiles.ReadError {
            throw CommandError.usage(error.description)
        }
    }

    /// Loads rule files, printing every diagnostic; a file with errors is a failure (nothing half-loaded).
    static func loadRules(_ inv: Invocation, _ paths: [String]) throws -> (RuleSet, [String]) {
        let (ruleSet, diagnostics, files) = try readRules(paths)
        for d in diagnostics { inv.note(d.description) }
        if diagnostics.hasErrors {
            throw CommandError.failed(
                "\(diagnostics.filter { $0.severity == .error }.count) error(s) in the rule files; fix them first",
                .refused)
        }
        return (ruleSet, files)
    }

    static let rulesLoad = CommandDefinition(
        name: "load", summary: "use these rule files for this session (checked first)", usage: "PATH…",
        positionals: [.path], variadic: true, example: "rules load rules/cold-chain.rules"
    ) { inv in
        try inv.expectPositionals(1)
        let (ruleSet, files) = try loadRules(inv, inv.positionals)
        inv.context.rulePaths = inv.positionals
        inv.note("loaded \(ruleSet.rules.count) rules from \(files.count) file(s)")
    }

    static let rulesList = CommandDefinition(
        name: "list", summary: "the loaded rules: scope, condition, actions, mode", usage: "[PATH…]",
        positionals: [.path], variadic: true, example: "rules list"
    ) { inv in
        let (ruleSet, _) = try loadRules(inv, rulePaths(inv, inv.positionals))
        var rows: [[String]] = []
        var data: [JSONValue] = []
        for rule in ruleSet.rules {
            let syntax = rule.syntax
            var scope = rule.groups.map { "group \($0)" } + rule.tuids
            if scope.isEmpty { scope = ["every device"] }
            let actions = syntax.actions.map(\.description)
            rows.append([
                rule.name, scope.joined(separator: ", "), actions.joined(separator: ", "), rule.mode.rawValue,
                "\(rule.location.file):\(rule.location.line)",
            ])
            data.append([
                "name": .string(rule.name), "file": .string(rule.location.file),
                "line": .number(Double(rule.location.line)), "scope": .array(scope.map(JSONValue.string)),
                "actions": .array(actions.map(JSONValue.string)), "mode": .string(rule.mode.rawValue),
            ])
        }
        inv.emit(
            Rendered(
                data: .array(data),
                table: Table(columns: ["rule", "scope", "actions", "mode", "defined at"], rows: rows)))
    }

    static let rulesCheck = CommandDefinition(
        name: "check", summary: "report every problem in rule files as FILE:LINE:COL", usage: "[PATH…]",
        positionals: [.path], variadic: true, example: "rules check rules/",
        notes: ["Exit status 0 when there are no errors (warnings are printed either way), 1 when there are."]
    ) { inv in
        let (ruleSet, diagnostics, files) = try readRules(rulePaths(inv, inv.positionals))
        for d in diagnostics { inv.console.out(d.description + "\n") }
        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.count - errors
        let summary =
            "\(files.count) file(s), \(ruleSet.rules.count) rule(s): \(errors) error(s), \(warnings) warning(s)"
        if errors > 0 { throw CommandError.failed(summary, .refused) }
        inv.note(summary)
    }

    static let rulesTest = CommandDefinition(
        name: "test", summary: "run rule test fixtures (.test files) on a virtual clock", usage: "[PATH…]",
        positionals: [.path], variadic: true, example: "rules test rules/",
        notes: ["The fixture format is described in docs/rules-testing.md. Exit status 1 when a test fails."]
    ) { inv in
        let paths = inv.positionals.isEmpty ? (inv.context.rulePaths ?? ["rules"]) : inv.positionals
        let results: [RuleTestResult]
        do {
            results = try RuleFiles.test(paths)
        } catch let error as RuleFiles.ReadError {
            throw CommandError.usage(error.description)
        }
        var failed = 0
        for result in results {
            if result.passed {
                inv.console.out("ok    \(result.file) (\(result.evaluations) evaluations)\n")
            } else {
                failed += 1
                inv.console.out("FAIL  \(result.file)\n\(result.description)\n")
            }
        }
        let summary = "\(results.count - failed) passed, \(failed) failed"
        inv.console.out(summary + "\n")
        if failed > 0 { throw CommandError.failed("\(failed) rule test file(s) failed", .refused) }
    }

    static let rulesEval = CommandDefinition(
        name: "eval", summary: "evaluate the rules for devices now; shows what would fire, changes nothing",
        usage: "[TUID…] [--group G …]", positionals: [.tuid], variadic: true,
        flags: [FlagSpec(["--group", "-g"], value: "G", kind: .group, help: "every device of group G (repeatable)")],
        example: "rules eval --group prfi00coldchain --group prfi00officehq",
        notes: [
            "Starts from the scheduler's saved state (--db) when there is one, so it shows what `tsee run` would do next.",
            "With no TUID and no --group: every device in the rules' scope (the groups and devices the rules name, or "
                + "every group and `unassigned` when a rule applies to every device).",
        ]
    ) { inv in
        let (ruleSet, _) = try loadRules(inv, rulePaths(inv))
        var tuids: [(String, String?)] = []
        for i in inv.positionals.indices { tuids.append((try inv.tuid(at: i), nil)) }
        let fetcher = FleetFetcher(client: inv.client)
        var groups = inv.arguments.flags["--group"] ?? []
        if tuids.isEmpty && groups.isEmpty {
            let active = ruleSet.rules.filter { $0.mode != .off }
            if active.contains(where: { $0.groups.isEmpty && $0.tuids.isEmpty }) {
                tuids = try await fetcher.devices(inGroups: []).map { ($0.tuid, $0.group) }
            } else {
                tuids = Array(Set(active.flatMap(\.tuids))).sorted().map { ($0, nil) }
                let scoped = Array(Set(active.flatMap(\.groups))).sorted()
                if !scoped.isEmpty { tuids += try await fetcher.devices(inGroups: scoped).map { ($0.tuid, $0.group) } }
            }
        } else if !groups.isEmpty {
            tuids += try await fetcher.devices(inGroups: groups).map { ($0.tuid, $0.group) }
        }
        var seen = Set<String>()
        tuids = tuids.filter { seen.insert($0.0).inserted }
        let inspector = RuleInspector(
            client: inv.client, engine: Engine(ruleSet), store: await inv.context.openStoreIfExists())
        let bar = inv.progress("rules eval", total: tuids.count)
        let evaluations = await concurrentMap(tuids, limit: 8) {
            (tuid, group) -> Result<RuleInspector.Evaluation, any Error> in
            defer { bar?.advance() }
            do { return .success(try await inspector.evaluate(tuid, group: group)) } catch { return .failure(error) }
        }
        bar?.finish()
        try Task.checkCancellation()
        var rows: [[String]] = []
        var data: [JSONValue] = []
        var failures = 0
        for ((tuid, _), result) in zip(tuids, evaluations) {
            do {
                let evaluation = try result.get()
                for (index, rule) in ruleSet.rules.enumerated() {
                    let state = evaluation.states[index]
                    let firing = evaluation.firings.first { $0.rule == rule.name }
                    guard firing != nil || state.phase != .inactive else { continue }
                    let actions = firing.map { $0.actions.map(\.description).joined(separator: ", ") } ?? ""
                    rows.append([tuid, rule.name, state.phase.rawValue, firing == nil ? "" : "would fire: " + actions])
                    data.append([
                        "tuid": .string(tuid), "rule": .string(rule.name), "state": .string(state.phase.rawValue),
                        "would_fire": .bool(firing != nil),
                        "actions": .array((firing?.actions ?? []).map { .string($0.description) }),
                    ])
                }
            } catch {
                failures += 1
                inv.context.report(error)
            }
        }
        inv.emit(Rendered(data: .array(data), table: Table(columns: ["tuid", "rule", "state", "now"], rows: rows)))
        if failures > 0 {
            throw CommandError.partialFailure("\(failures) of \(tuids.count) devices could not be evaluated")
        }
    }

    static let rulesExplain = CommandDefinition(
        name: "explain", summary: "why a rule did or did not fire for a device", usage: "RULE TUID",
        positionals: [.ruleName, .tuid], example: "rules explain low-battery TSPD04LLY59881187"
    ) { inv in
        try inv.expectPositionals(2, 2)
        let (ruleSet, _) = try loadRules(inv, rulePaths(inv))
        let name = inv.positionals[0]
        guard ruleSet.index(of: name) != nil else {
            let hint = Suggestion.closest(to: name, among: ruleSet.rules.map(\.name)).map { " (did you mean `\($0)`?)" }
            throw CommandError.usage("no rule named `\(name)`\(hint ?? ""); `rules list` shows them")
        }
        let tuid = try inv.tuid(at: 1)
        let engine = Engine(ruleSet)
        let inspector = RuleInspector(
            client: inv.client, engine: engine, store: await inv.context.openStoreIfExists())
        let evaluation = try await inspector.evaluate(tuid)
        guard
            let explanation = engine.explain(
                rule: name, tuid: tuid, observations: evaluation.observations,
                state: evaluation.states[ruleSet.index(of: name)!], now: evaluation.now)
        else { return }
        let firesNow = evaluation.firings.first { $0.rule == name }
        var text = explanation.description
        if !text.hasSuffix("\n") { text += "\n" }
        if let firesNow {
            let actions = firesNow.actions.map(\.description).joined(separator: ", ")
            text += "  it fires at this evaluation: \(actions) (explain carries nothing out)\n"
        }
        text +=
            evaluation.fromSavedState
            ? "  (from the scheduler's saved state in \(inv.context.databasePath))\n"
            : "  (no saved scheduler state for this device: evaluated as a fresh start over the last 24 h)\n"
        let tests: [JSONValue] = explanation.tests.map { test in
            ["test": .string(test.text), "value": .string("\(test.value)")]
        }
        let data: JSONValue = [
            "rule": .string(name), "tuid": .string(tuid), "now": .number(Double(explanation.now)),
            "condition": .string("\(explanation.condition)"), "tests": .array(tests),
            "state": .string(explanation.state.phase.rawValue),
            "fires_at": explanation.firesAt.map { .number(Double($0)) } ?? .null,
            "verdict": .string(explanation.verdict),
            "fires_now": .bool(firesNow != nil),
            "from_saved_state": .bool(evaluation.fromSavedState),
        ]
        inv.emit(Rendered(data: data, text: text))
    }
}

extension CommandContext {
    /// The store at `databasePath` (a SQLite file or a PostgreSQL database), if there is one to read: read-only
    /// commands never create a SQLite file. `nil` too when it cannot be opened: these readers work without it.
    func openStoreIfExists() async -> (any Store)? {
        guard let location = try? StoreLocation.parse(databasePath), location.mayHoldState else { return nil }
        return try? await location.open(passwordFile: databasePasswordFile)
    }

    /// The store for a command that needs it (`log`, `status`): a precise error when there is none or it cannot be
    /// opened.
    func openStoreForReading(_ command: String) async throws -> any Store {
        let location: StoreLocation
        do {
            location = try StoreLocation.parse(databasePath)
        } catch {
            throw CommandError.failed("\(command): \(error)", .usage)
        }
        guard location.mayHoldState else {
            throw CommandError.failed(
                "no action log at \(location): `tsee run` has not run with this --db yet", .usage)
        }
        return try await location.open(passwordFile: databasePasswordFile)
    }
}
