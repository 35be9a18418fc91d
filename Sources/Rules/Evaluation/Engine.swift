/// Evaluates a rule set, device by device. Pure: observations, states and a clock value in; firings out.
///
/// Each cycle, for each device, the caller passes the device's new messages (any order, duplicates allowed)
/// with its saved `DeviceObservations` and `[RuleState]` (index `i` belongs to `rules[i]`), and saves both
/// back afterwards.
public struct Engine: Sendable {
    public let ruleSet: RuleSet
    public var rules: [CompiledRule] { ruleSet.rules }
    /// Rules with `for …`: their condition is tracked message by message.
    let trackedRules: [Int]

    /// What evaluation needs of a rule, free of references so reading it costs no reference counting.
    /// (Copying a `CompiledRule` retains a dozen references; per device and rule that was most of the time.)
    struct HotRule {
        var root: Int32
        /// The `clear when` condition's root in `nodes`, or -1.
        var clearRoot: Int32
        var fieldMask: UInt64
        /// 0 none, 1 `for DURATION`, 2 `for N reports`.
        var hold: UInt8
        /// The duration in seconds or the number of reports.
        var holdAmount: Int64
        var usesSilence: Bool
        var isTimeDependent: Bool
        var isOff: Bool
        /// `in group` or `on` given: look at `scopes` to know whether a device is in scope.
        var isScoped: Bool
        var cooldown: Int64?
        var repeatEvery: Int64?
        var repeatMax: Int?
    }

    /// Each scoped rule's groups and TUIDs, by rule index.
    struct Scope {
        var groups: [String]
        var tuids: [String]

        func contains(tuid: String, group: String?) -> Bool? {
            if tuids.contains(tuid) { return true }
            if groups.isEmpty { return false }
            guard let group else { return nil }
            return groups.contains(group)
        }
    }

    let hot: ContiguousArray<HotRule>
    /// Every rule's condition nodes in one array.
    let nodes: ContiguousArray<Program.Node>
    let strings: [String]
    let silenceOffsets: [[Int64]]
    let scopes: [Scope]

    public init(_ ruleSet: RuleSet) {
        self.ruleSet = ruleSet
        self.trackedRules = ruleSet.rules.indices.filter {
            ruleSet.rules[$0].hold != nil && ruleSet.rules[$0].mode != .off
        }
        var nodes: ContiguousArray<Program.Node> = []
        var strings: [String] = []
        var hot: ContiguousArray<HotRule> = []
        for rule in ruleSet.rules {
            let root = rule.condition.append(to: &nodes, strings: &strings)
            let clearRoot = rule.clear?.append(to: &nodes, strings: &strings) ?? -1
            let hold: UInt8
            let amount: Int64
            switch rule.hold {
            case nil: (hold, amount) = (0, 0)
            case .duration(let d): (hold, amount) = (1, d)
            case .reports(let n): (hold, amount) = (2, Int64(n))
            }
            hot.append(
                HotRule(
                    root: root, clearRoot: clearRoot, fieldMask: rule.fieldMask, hold: hold, holdAmount: amount,
                    usesSilence: rule.usesSilence, isTimeDependent: rule.isTimeDependent, isOff: rule.mode == .off,
                    isScoped: !(rule.groups.isEmpty && rule.tuids.isEmpty), cooldown: rule.syntax.cooldown,
                    repeatEvery: rule.syntax.repeatEvery, repeatMax: rule.syntax.repeatMax))
        }
        self.hot = hot
        self.nodes = nodes
        self.strings = strings
        self.silenceOffsets = ruleSet.rules.map(\.silenceOffsets)
        self.scopes = ruleSet.rules.map { Scope(groups: $0.groups, tuids: $0.tuids) }
    }

    /// `CompiledRule.isInScope` without copying the rule.
    @inline(__always)
    private func isInScope(_ r: Int, tuid: String, group: String?) -> Bool? {
        hot[r].isScoped ? scopes[r].contains(tuid: tuid, group: group) : true
    }

    /// Fresh states for every rule, in rule order.
    public func initialStates() -> [RuleState] { Array(repeating: RuleState(), count: rules.count) }

    /// Applies messages to the observations only (sample-and-hold, de-duplication), tracking no rule.
    public func ingest(_ messages: [Message], into observations: inout DeviceObservations) {
        observations.bind(to: ruleSet.fieldNames)
        var none: [RuleState] = []
        walk(messages, tuid: "", observations: &observations, states: &none, tracked: [])
    }

    /// One evaluation of every rule for one device at `now` (the API's clock, Unix seconds).
    ///
    /// `newMessages` are the device's messages fetched since the last cycle; they are applied to `observations`
    /// in `tsmTs` order, and conditions with `for` are tracked at each message time. Actions are then decided
    /// at `now`. With `observations.pollFailed` set nothing changes and nothing fires.
    public func evaluate(
        tuid: String, observations: inout DeviceObservations, newMessages: [Message], states: inout [RuleState],
        now: Int64
    ) -> [Firing] {
        if observations.pollFailed { return [] }
        observations.bind(to: ruleSet.fieldNames)
        if states.count < rules.count {
            states += Array(repeating: RuleState(), count: rules.count - states.count)
        }
        var tracked: [Int] = []
        if !trackedRules.isEmpty {
            tracked.reserveCapacity(trackedRules.count)
            for i in trackedRules where isInScope(i, tuid: tuid, group: observations.group) == true {
                tracked.append(i)
            }
        }
        if !newMessages.isEmpty {
            walk(newMessages, tuid: tuid, observations: &observations, states: &states, tracked: tracked)
        }
        var firings: [Firing] = []
        for i in hot.indices {
            if hot[i].isOff || isInScope(i, tuid: tuid, group: observations.group) != true { continue }
            if let firing = decide(i, tuid: tuid, observations: observations, state: &states[i], now: now) {
                firings.append(firing)
            }
        }
        return firings
    }

    /// Evaluates one rule for one device; `state` is that pair's state. See `evaluate(tuid:…)`.
    ///
    /// Applies `newMessages` to `observations` itself; when driving several rules for the same device, use the
    /// all-rules form instead so the messages are applied once.
    public func evaluate(
        rule index: Int, tuid: String, observations: inout DeviceObservations, newMessages: [Message],
        state: inout RuleState, now: Int64
    ) -> [Firing] {
        if observations.pollFailed { return [] }
        observations.bind(to: ruleSet.fieldNames)
        let rule = rules[index]
        guard rule.mode != .off, rule.isInScope(tuid: tuid, group: observations.group) == true else {
            ingest(newMessages, into: &observations)
            return []
        }
        var states = Array(repeating: RuleState(), count: rules.count)
        states[index] = state
        walk(
            newMessages, tuid: tuid, observations: &observations, states: &states,
            tracked: rule.hold == nil ? [] : [index])
        let firing = decide(index, tuid: tuid, observations: observations, state: &states[index], now: now)
        state = states[index]
        return firing.map { [$0] } ?? []
    }

    // MARK: Messages

    /// Applies messages in `tsmTs` order; before and after each, advances the tracked rules' conditions.
    private func walk(
        _ input: [Message], tuid: String, observations obs: inout DeviceObservations, states: inout [RuleState],
        tracked: [Int]
    ) {
        var isSorted = true
        var i = 1
        while i < input.count {
            if input[i - 1].tsmTs > input[i].tsmTs {
                isSorted = false
                break
            }
            i += 1
        }
        let messages = isSorted ? input : input.sorted { $0.tsmTs < $1.tsmTs }
        let names = ruleSet.fieldNames
        var groupStart = 0
        for index in messages.indices {
            let message = messages[index]
            let time = message.tsmTs
            if index > 0 && messages[index - 1].tsmTs != time { groupStart = index }
            var duplicate = false
            var j = groupStart
            while j < index {
                if messages[j].tsmId == message.tsmId && messages[j].tsmEv == message.tsmEv {
                    duplicate = true
                    break
                }
                j += 1
            }
            if duplicate { continue }
            let key = message.tsmId << 16 | (message.tsmEv & 0xFFFF)
            var late = false
            if let newest = obs.newestMessageTime {
                if time == newest {
                    if obs.keysAtNewest.contains(key) { continue }
                    obs.keysAtNewest.append(key)
                } else if time > newest {
                    obs.keysAtNewest.removeAll(keepingCapacity: true)
                    obs.keysAtNewest.append(key)
                } else {
                    late = true
                }
            } else {
                obs.keysAtNewest.append(key)
            }

            if !late {
                for r in tracked where hot[r].isTimeDependent {
                    advance(r, observations: obs, state: &states[r], before: time)
                }
            }

            var touched: UInt64 = 0
            for property in message.numbers {
                var slot = 0
                while slot < names.count {
                    if names[slot] == property.name {
                        if late ? time > obs.times[slot] : time >= obs.times[slot] {
                            obs.kinds[slot] = DeviceObservations.number
                            obs.numbers[slot] = property.value
                            obs.times[slot] = time
                            touched |= 1 << UInt64(min(slot, 63))
                        }
                        break
                    }
                    slot += 1
                }
            }
            for property in message.strings {
                if let slot = names.firstIndex(of: property.name),
                    late ? time > obs.times[slot] : time >= obs.times[slot]
                {
                    obs.kinds[slot] = DeviceObservations.text
                    obs.strings[slot] = property.value
                    obs.times[slot] = time
                    touched |= 1 << UInt64(min(slot, 63))
                }
            }
            if late { continue }
            obs.newestMessageTime = time

            if tracked.isEmpty { continue }
            nodes.withUnsafeBufferPointer { nodes in
                for r in tracked {
                    let rule = hot[r]
                    let carries = touched & rule.fieldMask != 0
                    if rule.hold == 1 {
                        if carries || rule.usesSilence || states[r].trackedUntil == nil {
                            let value = Program.evaluate(rule.root, nodes, strings, obs, time)
                            track(value, at: time, &states[r])
                        }
                    } else if rule.hold == 2 && carries {
                        switch Program.evaluate(rule.root, nodes, strings, obs, time) {
                        case .yes: states[r].reportsInARow = min(states[r].reportsInARow + 1, 1 << 30)
                        case .no: states[r].reportsInARow = 0
                        case .unknown: break
                        }
                    }
                    if states[r].trackedUntil.map({ $0 < time }) ?? true { states[r].trackedUntil = time }
                }
            }
        }
    }

    @inline(__always)
    private func track(_ value: Truth, at time: Int64, _ state: inout RuleState) {
        switch value {
        case .yes: if state.holdingSince == nil { state.holdingSince = time }
        case .no: state.holdingSince = nil
        case .unknown: break
        }
    }

    /// Evaluates a time-dependent `for DURATION` condition at the instants strictly between the last tracked
    /// time and `end` where it can change without a message: alert starts and ends, silence thresholds.
    private func advance(_ r: Int, observations obs: DeviceObservations, state: inout RuleState, before end: Int64) {
        let rule = hot[r]
        guard rule.hold == 1 else { return }
        var from = state.trackedUntil ?? Int64.min
        while true {
            var next = Int64.max
            if let alerts = obs.alerts {
                for episode in alerts {
                    if episode.from > from && episode.from < next { next = episode.from }
                    if let to = episode.to, to > from, to < next { next = to }
                }
            }
            if rule.usesSilence, let newest = obs.newestMessageTime {
                for offset in silenceOffsets[r] {
                    let t = newest + offset
                    if t > from && t < next { next = t }
                }
            }
            guard next < end else { break }
            let value = nodes.withUnsafeBufferPointer { Program.evaluate(rule.root, $0, strings, obs, next) }
            track(value, at: next, &state)
            from = next
            state.trackedUntil = next
        }
    }

    // MARK: Decisions

    /// The state machine step at `now`: level conditions, edge actions.
    private func decide(
        _ r: Int, tuid: String, observations obs: DeviceObservations, state: inout RuleState, now: Int64
    ) -> Firing? {
        let rule = hot[r]
        let condition: Truth
        if rule.hold == 1 {
            advance(r, observations: obs, state: &state, before: now)
            condition = nodes.withUnsafeBufferPointer { Program.evaluate(rule.root, $0, strings, obs, now) }
            track(condition, at: now, &state)
            if state.trackedUntil.map({ $0 < now }) ?? true { state.trackedUntil = now }
        } else {
            condition = nodes.withUnsafeBufferPointer { Program.evaluate(rule.root, $0, strings, obs, now) }
        }

        switch state.phase {
        case .inactive, .pending:
            switch condition {
            case .unknown:
                return nil
            case .no:
                if state.phase != .inactive {
                    state.phase = .inactive
                    state.phaseSince = now
                }
                return nil
            case .yes:
                let held: Bool
                switch rule.hold {
                case 1: held = state.holdingSince.map { $0 <= now - rule.holdAmount } ?? false
                case 2: held = state.reportsInARow >= rule.holdAmount
                default: held = true
                }
                let cooledDown = rule.cooldown.flatMap { c in state.firedAt.map { now >= $0 + c } } ?? true
                if held && cooledDown {
                    state.phase = .firing
                    state.phaseSince = now
                    state.firedAt = now
                    state.emittedAt = now
                    state.repeatsDone = 0
                    state.sequence += 1
                    return firing(rules[r], tuid: tuid, obs, state, now: now, isRepeat: false)
                }
                if state.phase != .pending {
                    state.phase = .pending
                    state.phaseSince = now
                }
                return nil
            }
        case .firing:
            let ended: Truth
            if rule.clearRoot >= 0 {
                ended = nodes.withUnsafeBufferPointer { Program.evaluate(rule.clearRoot, $0, strings, obs, now) }
            } else {
                ended = condition == .unknown ? .unknown : (condition == .yes ? .no : .yes)
            }
            switch ended {
            case .yes:
                state.phase = .inactive
                state.phaseSince = now
                state.holdingSince = condition == .yes ? state.holdingSince : nil
                return nil
            case .unknown:
                return nil
            case .no:
                guard let every = rule.repeatEvery,
                    rule.repeatMax.map({ state.repeatsDone < $0 }) ?? true,
                    let emitted = state.emittedAt, now - emitted >= every
                else { return nil }
                state.repeatsDone += 1
                state.emittedAt = now
                state.sequence += 1
                return firing(rules[r], tuid: tuid, obs, state, now: now, isRepeat: true)
            }
        }
    }

    func held(_ rule: CompiledRule, _ state: RuleState, now: Int64) -> Bool {
        switch rule.hold {
        case nil: return true
        case .duration(let d): return state.holdingSince.map { $0 <= now - d } ?? false
        case .reports(let n): return state.reportsInARow >= n
        }
    }

    /// When the cooldown after the last firing ends, if there is one.
    func cooldownEnd(_ rule: CompiledRule, _ state: RuleState) -> Int64? {
        guard let cooldown = rule.syntax.cooldown, let fired = state.firedAt else { return nil }
        return fired + cooldown
    }

    private func firing(
        _ rule: CompiledRule, tuid: String, _ obs: DeviceObservations, _ state: RuleState, now: Int64, isRepeat: Bool
    ) -> Firing {
        let actions = rule.actions.map { action -> Action in
            switch action {
            case .fixed(let a): return a
            case .log(let segments): return .log(render(segments, rule: rule, tuid: tuid, obs, now: now))
            }
        }
        return Firing(
            rule: rule.name, tuid: tuid, time: now, sequence: state.sequence, isRepeat: isRepeat,
            shadow: rule.mode == .shadow, actions: actions)
    }

    private func render(
        _ segments: [CompiledRule.LogSegment], rule: CompiledRule, tuid: String, _ obs: DeviceObservations, now: Int64
    ) -> String {
        var text = ""
        for segment in segments {
            switch segment {
            case .text(let t): text += t
            case .tuid: text += tuid
            case .rule: text += rule.name
            case .slot(let slot): text += obs.latest(slot: slot)?.value.description ?? "?"
            case .battery: text += batteryValue(obs).map(formatNumber) ?? "?"
            case .status: text += obs.status ?? "?"
            case .group: text += obs.group ?? "?"
            case .firmware: text += obs.firmware ?? "?"
            case .silence: text += obs.newestMessageTime.map { humanDuration(now - $0) } ?? "?"
            }
        }
        return text
    }

    func batteryValue(_ obs: DeviceObservations) -> Double? {
        if let slot = ruleSet.batterySlot, slot < obs.kinds.count, obs.kinds[slot] == DeviceObservations.number {
            return obs.numbers[slot]
        }
        return obs.batteryLevel
    }
}

/// `2h5m`, `45s`, `-30s`.
func humanDuration(_ seconds: Int64) -> String {
    if seconds < 0 { return "-" + humanDuration(-seconds) }
    if seconds == 0 { return "0s" }
    var rest = seconds
    var text = ""
    for (unit, size) in [("d", Int64(86400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
        text += "\(rest / size)\(unit)"
        rest %= size
    }
    return text
}
