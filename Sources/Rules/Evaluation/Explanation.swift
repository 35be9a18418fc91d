/// Why a rule does or does not fire for a device: each test's value, the state, and when it would fire.
public struct Explanation: Sendable, Equatable, CustomStringConvertible {
    /// One test of a condition and its value at the evaluation time.
    public struct Test: Sendable, Hashable {
        public var text: String
        public var value: Truth
        /// The field's value (`19`, `installed`) and, for message fields, its tsmTs.
        public var fieldValue: String?
        public var fieldTime: Int64?
        /// Set when the value is unknown because the field was never seen.
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
    /// One line: fires now, would fire at, or why not.
    public var verdict: String

    public var description: String {
        var lines = ["rule \(rule) for \(tuid) at \(formatTime(now))"]
        if mode != .live { lines.append("  mode: \(mode.rawValue)") }
        lines.append("  when: \(condition)")
        func add(_ test: Test) {
            var line = "    \(test.text): \(test.value)"
            if let value = test.fieldValue {
                line += " (value \(value)"
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
        if state.reportsInARow > 0 { lines.append("  reports in a row: \(state.reportsInARow)") }
        if let fired = state.firedAt { lines.append("  last fired: \(formatTime(fired)) (firing #\(state.sequence))") }
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
        let unknownAll = obs.pollFailed
        let condition = unknownAll ? Truth.unknown : rule.condition.evaluate(obs, at: now)
        let tests = describe(rule.condition, obs, now: now)
        let clear = rule.clear.map { unknownAll ? Truth.unknown : $0.evaluate(obs, at: now) }
        let clearTests = rule.clear.map { describe($0, obs, now: now) } ?? []
        let scope = rule.isInScope(tuid: tuid, group: obs.group)

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
            if rule.clear != nil {
                text += "ends when `\(rule.syntax.clear!.text)` holds"
            } else {
                text += "ends when the condition is false"
            }
            if let every = rule.syntax.repeatEvery, let emitted = state.emittedAt {
                if rule.syntax.repeatMax.map({ state.repeatsDone < $0 }) ?? true {
                    text += "; repeats at \(formatTime(emitted + every))"
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
                    at = max(now, since + d)
                    if since + d > now {
                        reason = "condition has held since \(formatTime(since)), needs \(formatDuration(d))"
                    }
                case .reports(let n):
                    if state.reportsInARow < n {
                        at = nil
                        reason = "needs \(n - state.reportsInARow) more report(s) satisfying it"
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
            verdict: verdict)
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

    private func describe(_ program: Program, _ obs: DeviceObservations, now: Int64) -> [Explanation.Test] {
        program.tests.map { node, expression in
            let value = obs.pollFailed ? Truth.unknown : program.evaluate(node: node, obs, at: now)
            var test = Explanation.Test(text: expression.text, value: value)
            guard case .test(let field, _, _, _) = expression else {
                if obs.alerts == nil { test.unknownBecause = "alerts not fetched" }
                return test
            }
            switch field {
            case "battery":
                if let slot = ruleSet.batterySlot, let (v, t) = obs.latest(slot: slot) {
                    test.fieldValue = v.description
                    test.fieldTime = t
                } else if let level = obs.batteryLevel {
                    test.fieldValue = formatNumber(level) + " (thing info battery_level)"
                }
            case "silence":
                test.fieldValue = obs.newestMessageTime.map { humanDuration(now - $0) }
            case "status": test.fieldValue = obs.status
            case "group": test.fieldValue = obs.group
            case "firmware": test.fieldValue = obs.firmware
            default:
                if let (v, t) = obs.latest(field) {
                    test.fieldValue = v.description
                    test.fieldTime = t
                }
            }
            if test.fieldValue == nil { test.unknownBecause = "`\(field)` never seen" }
            return test
        }
    }
}

/// ISO-8601 UTC (`2024-05-01T12:00:00Z`) from Unix seconds, without reading any clock.
public func formatTime(_ seconds: Int64) -> String {
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
