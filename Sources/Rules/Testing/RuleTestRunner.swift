import Foundation

/// The outcome of one fixture file.
public struct RuleTestResult: Sendable, CustomStringConvertible {
    public var file: String
    /// Problems in the fixture or in the rule files it names; any error fails the test.
    public var diagnostics: [Diagnostic]
    public var failures: [RuleTestFailure]
    /// How many evaluation times were run.
    public var evaluations: Int

    public var passed: Bool { !diagnostics.hasErrors && failures.isEmpty }

    public var description: String {
        if passed { return "\(file): ok (\(evaluations) evaluations)" }
        var lines = diagnostics.filter { $0.severity == .error }.map(\.description)
        lines += failures.map(\.description)
        return lines.joined(separator: "\n")
    }
}

/// Actions at one evaluation time that differ from the fixture's expectations.
public struct RuleTestFailure: Sendable, Hashable, CustomStringConvertible {
    /// The first `expect` line at that time, else the first step at that time.
    public var location: SourceLocation
    /// Seconds after the fixture's start.
    public var time: Int64
    /// `TUID action`, sorted; `would` marks shadow actions.
    public var expected: [String]
    public var actual: [String]
    /// Set when the actions agree but not their order.
    public var note: String?

    public init(
        location: SourceLocation, time: Int64, expected: [String], actual: [String], note: String? = nil
    ) {
        self.location = location
        self.time = time
        self.expected = expected
        self.actual = actual
        self.note = note
    }

    public var description: String {
        if let note {
            var lines = ["\(location.file):\(location.line): at \(formatDuration(time)): \(note)"]
            lines += expected.map { "  expected: \($0)" }
            lines += actual.map { "  emitted:  \($0)" }
            return lines.joined(separator: "\n")
        }
        var lines = ["\(location.file):\(location.line): at \(formatDuration(time)): actions differ"]
        var unmatched = actual
        for line in expected {
            if let i = unmatched.firstIndex(of: line) {
                unmatched.remove(at: i)
                lines.append("    \(line)")
            } else {
                lines.append("  - \(line)")
            }
        }
        lines += unmatched.map { "  + \($0)" }
        lines.append("  (- expected but not emitted, + emitted but not expected)")
        return lines.joined(separator: "\n")
    }
}

/// Runs rule test fixtures (`tsee rules test`): the rules are evaluated on a virtual clock and the emitted
/// actions compared with the fixture's `expect` lines.
public enum RuleTestRunner {
    /// Runs one fixture. `load` reads a rule file by path (the fixture's directory joined with the name the
    /// fixture gives); the runner itself reads nothing.
    public static func run(
        fixture file: String, text: String, load: (String) throws -> String
    ) -> RuleTestResult {
        let (fixture, fixtureDiagnostics) = RuleFixture.parse(file: file, text: text)
        var result = RuleTestResult(file: file, diagnostics: fixtureDiagnostics, failures: [], evaluations: 0)
        var sources: [(file: String, text: String)] = []
        for (name, location) in fixture.ruleFiles {
            let path = resolve(name, relativeTo: file)
            do {
                sources.append((path, try load(path)))
            } catch {
                result.diagnostics.append(
                    Diagnostic(.error, at: location, "cannot read rule file `\(path)`: \(error)"))
            }
        }
        let (ruleSet, ruleDiagnostics) = RuleSet.parse(sources: sources)
        result.diagnostics += ruleDiagnostics
        if result.diagnostics.hasErrors { return result }
        var simulation = Simulation(fixture: fixture, engine: Engine(ruleSet))
        simulation.run(into: &result)
        return result
    }

    /// `dir/of/fixture.test` + `x.rules` → `dir/of/x.rules`; absolute names are kept.
    static func resolve(_ name: String, relativeTo fixture: String) -> String {
        if name.hasPrefix("/") { return name }
        guard let slash = fixture.lastIndex(of: "/") else { return name }
        return String(fixture[...slash]) + name
    }
}

/// The virtual fleet of one fixture run.
private struct Simulation {
    let fixture: RuleFixture
    var engine: Engine
    var observations: [String: DeviceObservations] = [:]
    var states: [String: [RuleState]] = [:]
    var pending: [String: [Message]] = [:]

    init(fixture: RuleFixture, engine: Engine) {
        self.fixture = fixture
        self.engine = engine
        for device in fixture.devices {
            observations[device.tuid] = device.observations
            states[device.tuid] = engine.initialStates()
        }
    }

    mutating func run(into result: inout RuleTestResult) {
        var times = Set(fixture.steps.map(\.time))
        if let every = fixture.every {
            let last = max(fixture.until ?? 0, times.max() ?? 0)
            var t: Int64 = 0
            while t <= last {
                times.insert(t)
                t += every
            }
        } else if let until = fixture.until {
            times.insert(until)
        }
        var stepsByTime: [Int64: [RuleFixture.TimedStep]] = [:]
        for step in fixture.steps { stepsByTime[step.time, default: []].append(step) }

        for time in times.sorted() {
            let steps = stepsByTime[time] ?? []
            let now = fixture.start + time
            var failedPolls: Set<String> = []
            var expected: [String] = []
            var expectLocation: SourceLocation?
            if steps.contains(where: { if case .restart = $0.step { true } else { false } }) {
                restart()
            }
            for step in steps {
                switch step.step {
                case .message(var message):
                    message.tsmTs += fixture.start
                    pending[message.tsmTuid, default: []].append(message)
                case .alertOpen(let tuid, let type, let at):
                    observations[tuid]!.alerts!.append(
                        AlertEpisode(type: type, from: at.map { fixture.start + $0 } ?? now))
                case .alertClose(let tuid, let type, let at):
                    if let i = observations[tuid]!.alerts!.lastIndex(where: { $0.type == type && $0.to == nil }) {
                        observations[tuid]!.alerts![i].to = at.map { fixture.start + $0 } ?? now
                    }
                case .status(let tuid, let status): observations[tuid]!.status = status
                case .group(let tuid, let group): observations[tuid]!.group = group
                case .battery(let tuid, let level): observations[tuid]!.batteryLevel = level
                case .firmware(let tuid, let version): observations[tuid]!.firmware = version
                case .pollFailure(let tuid): failedPolls.insert(tuid)
                case .restart: break
                case .expect(let tuid, let action, let shadow):
                    expected.append(line(tuid, action, shadow: shadow))
                    expectLocation = expectLocation ?? step.location
                case .expectNothing:
                    expectLocation = expectLocation ?? step.location
                }
            }

            var actual: [String] = []
            var firingLines: [[String]] = []
            for device in fixture.devices {
                let tuid = device.tuid
                var obs = observations[tuid]!
                var deviceStates = states[tuid]!
                obs.pollFailed = failedPolls.contains(tuid)
                let messages = obs.pollFailed ? [] : pending.removeValue(forKey: tuid) ?? []
                let firings = engine.evaluate(
                    tuid: tuid, observations: &obs, newMessages: messages, states: &deviceStates, now: now)
                obs.pollFailed = false
                for firing in firings {
                    firingLines.append(firing.actions.map { line(tuid, $0, shadow: firing.shadow) })
                    for action in firing.actions {
                        actual.append(line(tuid, action, shadow: firing.shadow))
                        if firing.shadow { continue }
                        switch action {
                        case .moveTo(let status): obs.status = status
                        case .assignGroup(let group): obs.group = group
                        case .sendCommand, .log, .notify: break
                        }
                    }
                }
                observations[tuid] = obs
                states[tuid] = deviceStates
            }
            result.evaluations += 1
            let location =
                expectLocation ?? steps.first?.location ?? SourceLocation(file: fixture.file, line: 1, column: 1)
            if expected.sorted() != actual.sorted() {
                result.failures.append(
                    RuleTestFailure(location: location, time: time, expected: expected.sorted(), actual: actual.sorted()))
            } else if let misordered = firingLines.first(where: { !Simulation.inOrder($0, within: expected) }) {
                // Same actions, but one firing's actions are not in the order its rule lists them.
                result.failures.append(
                    RuleTestFailure(
                        location: location, time: time, expected: expected, actual: misordered,
                        note: "one firing's actions come in another order than expected"))
            }
        }
    }

    /// Whether `lines` appear in `expected` in the same relative order.
    static func inOrder(_ lines: [String], within expected: [String]) -> Bool {
        if lines.count < 2 { return true }
        var used = Set<Int>()
        var position = -1
        for line in lines {
            guard let i = expected.indices.first(where: { $0 > position && !used.contains($0) && expected[$0] == line })
            else { return false }
            used.insert(i)
            position = i
        }
        return true
    }

    private func line(_ tuid: String, _ action: Action, shadow: Bool) -> String {
        "\(tuid) \(shadow ? "would " : "")\(action)"
    }

    /// Saves and restores all engine state through JSON, as a restarted scheduler would from its store.
    private mutating func restart() {
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        guard let savedObservations = try? encoder.encode(observations),
            let savedStates = try? encoder.encode(states),
            let restoredObservations = try? decoder.decode([String: DeviceObservations].self, from: savedObservations),
            let restoredStates = try? decoder.decode([String: [RuleState]].self, from: savedStates)
        else {
            preconditionFailure("rule state does not survive encoding")
        }
        observations = restoredObservations
        states = restoredStates
        engine = Engine(engine.ruleSet)
    }
}
