import ThingseeKit

/// Why a rule does or does not fire for a device: each test's value, the state, and when it would fire.
public struct Explanation: Sendable, Equatable, CustomStringConvertible {
    /// One test of a condition and its value at the evaluation time.
    public struct Test: Sendable, Hashable {
        public var text: String
        public var value: Truth
        /// The values the test reads (`temp = 9.5`, `avg(temp, 1h) = 8.2`), as text; `?` when unknown.
        public var fieldValue: String?
        public var fieldTime: Int64?
        /// Set when the value is unknown because a field was never seen.
        public var unknownBecause: String?
    }

    public var rule: String
    public var tuid: String
    public var now: Int64
    public var mode: RuleMode
    public var inScope: Bool?
    public var condition: Truth
    public var tests: [Test]
    public var clearCondition: Truth?
    public var clearTests: [Test]
    public var state: RuleState
    /// When the rule would fire, if it is waiting for time alone.
    public var firesAt: Int64?
    /// When a firing rule would resolve, if that depends on time alone.
    public var resolvesAt: Int64?
    /// Device-clock errors seen for this device (tsmTs more than 5 minutes ahead, taken as the API's clock).
    public var clockErrors: Int
    /// Details of the hold and clear state: N-of-M reports, clear timers.
    public var notes: [String]
    /// One line: fires now, would fire at, or why not.
    public var verdict: String

    public var description: String {
        var lines = ["rule \(rule) for \(tuid) at \(formatTime(now))"]
        if mode != .live { lines.append("  mode: \(mode.rawValue)") }
        lines.append("  when: \(condition)")
        func add(_ test: Test) {
            var line = "    \(test.text): \(test.value)"
            if let value = test.fieldValue {
                line += " (\(value)"
                if let time = test.fieldTime { line += " at \(formatTime(time))" }
                line += ")"
            }
            if let why = test.unknownBecause { line += " (\(why))" }
            lines.append(line)
        }
        tests.forEach(add)
        if let clearCondition {
            lines.append("  clear when: \(clearCondition)")
            clearTests.forEach(add)
        }
        var stateLine = "  state: \(state.phase.rawValue)"
        if let since = state.phaseSince { stateLine += " since \(formatTime(since))" }
        lines.append(stateLine)
        if let holding = state.holdingSince { lines.append("  condition holding since \(formatTime(holding))") }
        lines += notes.map { "  " + $0 }
        if let fired = state.firedAt { lines.append("  last fired: \(formatTime(fired)) (firing #\(state.sequence))") }
        if clockErrors > 0 {
            lines.append("  device clock errors: \(clockErrors) report(s) stamped in the future, taken as now")
        }
        lines.append("  \(verdict)")
        return lines.joined(separator: "\n")
    }
}

extension Engine {
    /// Explains rule `index` for a device, from the observations and state saved by the last evaluation.
    public func explain(
        rule index: Int, tuid: String, observations: DeviceObservations, state: RuleState, now: Int64
    ) -> Explanation {
        var obs = observations
        obs.bind(to: ruleSet.fieldNames)
        let rule = rules[index]
        let hot = self.hot[index]
        return nodes.withUnsafeBufferPointer { nodes in
            let evaluator = Evaluator(
                nodes: nodes, strings: strings, lists: lists, timezone: hot.timezone >= 0 ? timezones[Int(hot.timezone)] : nil,
                model: TUID.model(of: tuid), kind: DeviceKind(tuid: tuid).rawValue)
            let unknownAll = obs.pollFailed
            let condition = unknownAll ? Truth.unknown : evaluator.truth(hot.root, obs, now)
            let tests = describe(
                rule.condition, offset: programOffsets[index].condition, evaluator, obs, now: now)
            let clear = rule.clear.map { _ in unknownAll ? Truth.unknown : evaluator.truth(hot.clearRoot, obs, now) }
            let clearTests =
                rule.clear.map { describe($0, offset: programOffsets[index].clear, evaluator, obs, now: now) } ?? []
            let scope = rule.isInScope(tuid: tuid, group: obs.group)
            var notes: [String] = []
            switch rule.hold {
            case .reports(let n), .reportsOf(let n, _):
                let m: Int
                if case .reportsOf(_, let of) = rule.hold { m = of } else { m = n }
                let outcomes = state.reports.map { $0.truth == .yes ? "✓" : ($0.truth == .no ? "✗" : "?") }
                let yes = state.reports.count(where: { $0.truth == .yes })
                notes.append(
                    "reports: \(yes) of the last \(state.reports.count) satisfied it (needs \(n) of \(m))"
                        + (outcomes.isEmpty ? "" : ": " + outcomes.joined(separator: " ")))
            default: break
            }
            var resolvesAt: Int64?
            switch rule.syntax.clearing {
            case .after(let d):
                if state.phase == .firing {
                    if let since = state.notTrueSince, condition != .yes {
                        resolvesAt = since &+ d
                        notes.append(
                            "clear after \(DurationText.format(d)): not true since \(formatTime(since))")
                    } else {
                        notes.append("clear after \(DurationText.format(d)): the condition still holds")
                    }
                }
            case .when(_, for: .some(let d)):
                if let since = state.clearHoldingSince {
                    if state.phase == .firing { resolvesAt = since &+ d }
                    notes.append(
                        "clear condition holding since \(formatTime(since)), needs \(DurationText.format(d))")
                }
            default: break
            }

            var firesAt: Int64?
            let verdict: String
            if rule.mode == .off {
                verdict = "not evaluated: mode off"
            } else if scope == false {
                verdict = "not evaluated: out of scope (\(scopeText(rule)))"
            } else if scope == nil {
                verdict = "not evaluated: the device's group is unknown (scope \(scopeText(rule)))"
            } else if obs.pollFailed {
                verdict = "unchanged: the last poll of this device failed"
            } else if state.phase == .firing {
                var text = "firing; "
                switch rule.syntax.clearing {
                case .after(let d):
                    text +=
                        resolvesAt.map { "resolves at \(formatTime($0)) unless the condition holds again" }
                        ?? "resolves \(DurationText.format(d)) after the condition stops holding"
                case .when(let x, let d):
                    if let at = resolvesAt {
                        text += "resolves at \(formatTime(at)) if `\(x.text)` keeps holding"
                    } else {
                        text += "resolves when `\(x.text)` holds" + (d.map { " for \(DurationText.format($0))" } ?? "")
                        if clear == .unknown { text += " (now unknown: it keeps firing)" }
                    }
                case nil:
                    if case .reportsOf(let n, let m) = rule.hold {
                        text += "resolves when fewer than \(n) of the last \(m) reports satisfy the condition"
                    } else if case .reports(let n) = rule.hold {
                        text += "resolves when one of the last \(n) reports does not satisfy the condition"
                    } else {
                        text += "resolves when the condition is not true"
                    }
                }
                if let every = rule.syntax.repeatEvery, let emitted = state.emittedAt {
                    if rule.syntax.repeatMax.map({ state.repeatsDone < $0 }) ?? true {
                        text += "; repeats at \(formatTime(emitted &+ every))"
                    } else {
                        text += "; all \(state.repeatsDone) repeats done"
                    }
                }
                verdict = text
            } else {
                switch condition {
                case .unknown:
                    let missing = tests.compactMap { $0.unknownBecause == nil ? nil : $0.text }
                    verdict =
                        "does not fire: condition unknown"
                        + (missing.isEmpty ? "" : " (\(missing.map { "`\($0)`" }.joined(separator: ", ")))")
                case .no:
                    verdict = "does not fire: condition false"
                case .yes:
                    var at: Int64? = now
                    var reason = ""
                    switch rule.hold {
                    case .duration(let d):
                        let since = state.holdingSince ?? now
                        at = max(now, since &+ d)
                        if since &+ d > now {
                            reason = "condition has held since \(formatTime(since)), needs \(formatDuration(d))"
                        }
                    case .reports(let n), .reportsOf(let n, _):
                        let yes = state.reports.count(where: { $0.truth == .yes })
                        if yes < n {
                            at = nil
                            reason = "needs \(n - yes) more report(s) satisfying it"
                        }
                    case nil:
                        break
                    }
                    if let end = cooldownEnd(rule, state), let t = at, end > t {
                        at = end
                        reason += (reason.isEmpty ? "" : "; ") + "cooldown until \(formatTime(end))"
                    }
                    firesAt = at
                    if let at, at <= now {
                        verdict = "fires at the next evaluation"
                    } else if let at {
                        verdict = "would fire at \(formatTime(at)): \(reason)"
                    } else {
                        verdict = "would fire later: \(reason)"
                    }
                }
            }
            return Explanation(
                rule: rule.name, tuid: tuid, now: now, mode: rule.mode, inScope: scope, condition: condition,
                tests: tests, clearCondition: clear, clearTests: clearTests, state: state, firesAt: firesAt,
                resolvesAt: resolvesAt, clockErrors: obs.clockErrors, notes: notes, verdict: verdict)
        }
    }

    /// Explains a rule by name; nil when no rule has that name.
    public func explain(
        rule name: String, tuid: String, observations: DeviceObservations, state: RuleState, now: Int64
    ) -> Explanation? {
        ruleSet.index(of: name).map {
            explain(rule: $0, tuid: tuid, observations: observations, state: state, now: now)
        }
    }

    private func scopeText(_ rule: CompiledRule) -> String {
        var parts: [String] = []
        if !rule.groups.isEmpty { parts.append("in group \(rule.groups.joined(separator: ", "))") }
        if !rule.tuids.isEmpty { parts.append("on \(rule.tuids.joined(separator: ", "))") }
        return parts.joined(separator: " or ")
    }

    private func describe(
        _ program: Program, offset: Int32, _ evaluator: Evaluator, _ obs: DeviceObservations, now: Int64
    ) -> [Explanation.Test] {
        program.tests.compactMap { node, expression -> Explanation.Test? in
            switch expression {
            case .and, .or, .not: return nil
            default: break
            }
            let value = obs.pollFailed ? Truth.unknown : evaluator.truth(node + offset, obs, now)
            var test = Explanation.Test(text: expression.text, value: value)
            if case .alert = expression {
                if obs.alerts == nil { test.unknownBecause = "alerts not fetched" }
                return test
            }
            let labels = Set(leafLabels(expression))
            var parts: [String] = []
            var missing: [String] = []
            for (label, index, isText) in program.values where labels.contains(label) {
                let text: String?
                if label == "silence" {
                    text = obs.silenceBase(at: now).map { DurationText.format(now &- $0) }
                } else if isText {
                    text = evaluator.text(index + offset, obs, now)
                } else {
                    let v = evaluator.number(index + offset, obs, now)
                    text = v.isNaN ? nil : formatNumber(v)
                }
                parts.append("\(label) = \(text ?? "?")")
                if text == nil { missing.append(label) }
                if let slot = ruleSet.fieldNames.firstIndex(of: label), let (_, t) = obs.latest(slot: slot) {
                    test.fieldTime = t
                }
            }
            if case .absent(let field, _) = expression {
                parts.append(value == .yes ? "\(field) never reported" : "\(field) reported")
            }
            if label(of: expression) == "battery", let slot = ruleSet.batterySlot, obs.latest(slot: slot) == nil,
                let level = obs.batteryLevel
            {
                parts = ["battery = \(formatNumber(level)) (thing info battery_level)"]
                missing = []
            }
            test.fieldValue = parts.isEmpty ? nil : parts.joined(separator: ", ")
            if value == .unknown && !missing.isEmpty {
                test.unknownBecause = missing.map { "`\($0)` unknown" }.joined(separator: ", ")
            }
            return test
        }
    }

    private func label(of expression: Expression) -> String? {
        if case .compare(.field(let name, _), _, _, _) = expression { return name }
        return nil
    }

    private func leafLabels(_ expression: Expression) -> [String] {
        func leaves(_ v: ValueExpression) -> [String] {
            switch v {
            case .field, .window: return [v.text]
            case .arithmetic(_, let a, let b): return leaves(a) + leaves(b)
            case .negate(let a): return leaves(a)
            default: return []
            }
        }
        switch expression {
        case .compare(let a, _, let b, _): return leaves(a) + leaves(b)
        case .between(let v, let l, let h, _): return leaves(v) + leaves(l) + leaves(h)
        case .member(let v, _, _), .contains(let v, _, _): return leaves(v)
        default: return []
        }
    }
}

/// ISO-8601 UTC (`2024-05-01T12:00:00Z`) from Unix seconds, without reading any clock.
public func formatTime(_ seconds: Int64) -> String {
    // Far outside any real clock: say so rather than compute a calendar date that overflows.
    guard seconds > -62_135_596_800 * 100, seconds < 253_402_300_799 * 100 else { return "\(seconds)s" }
    let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
    let secondsOfDay = seconds - days * 86400
    // Howard Hinnant's civil_from_days.
    let z = days + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
    return
        "\(year)-\(two(month))-\(two(day))T\(two(secondsOfDay / 3600)):\(two(secondsOfDay % 3600 / 60)):\(two(secondsOfDay % 60))Z"
}
