import Foundation
import ThingseeKit

/// Evaluates a rule set, device by device. Pure: observations, states and a clock value in; firings out.
///
/// Each cycle, for each device, the caller passes the device's new messages (any order, duplicates allowed)
/// with its saved `DeviceObservations` and `[RuleState]` (index `i` belongs to `rules[i]`), and saves both
/// back afterwards. Within one call each rule's firing depends only on that rule's state and the device's
/// observations, so a caller may commit each firing with its own rule's state alone.
public struct Engine: Sendable {
    public let ruleSet: RuleSet
    public var rules: [CompiledRule] { ruleSet.rules }

    /// A `tsmTs` later than the evaluation clock by more than this is a device clock error.
    public static let clockTolerance: Int64 = 300
    /// Tracked changes kept per (rule, device).
    static let maxChanges = 256

    /// What evaluation needs of a rule, free of references so reading it costs no reference counting.
    struct HotRule {
        var root: Int32
        /// The `clear when` condition's root in `nodes`, or -1.
        var clearRoot: Int32
        /// 0 none, 1 `for DURATION`, 2 `for N [of M] reports`.
        var hold: UInt8
        var holdSeconds: Int64
        var holdN: Int
        var holdM: Int
        /// 0 none, 1 `clear after`, 2 `clear when`, 3 `clear when … for`.
        var clear: UInt8
        var clearSeconds: Int64
        var tracked: Bool
        var horizon: Int64
        var usesSilence: Bool
        var usesAlerts: Bool
        var isOff: Bool
        /// `in group` or `on` given: look at `scopes` to know whether a device is in scope.
        var isScoped: Bool
        var cooldown: Int64?
        var repeatEvery: Int64?
        var repeatMax: Int?
        var timezone: Int32
        /// The rule's message-field slots: `flatSlots[slotStart ..< slotStart + slotCount]`.
        var slotStart: Int32
        var slotCount: Int32
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
    let lists: [Int32]
    let timezones: [TimeZone?]
    let silenceOffsets: [[Int64]]
    let flatSlots: [Int]
    let scopes: [Scope]
    /// Slots that keep history, with their retention.
    let retained: [(slot: Int, seconds: Int64, count: Int)]
    let keepsHistory: [Bool]
    /// `ruleSet.fieldNames` packed (`FieldKey`), in slot order.
    let fieldKeys: [FieldKey]
    /// Whether any condition or log line reads `kind` (`model`): only then is it worked out per device.
    let usesKind: Bool
    let usesModel: Bool
    /// Where each rule's condition and clear program start in `nodes`.
    let programOffsets: [(condition: Int32, clear: Int32)]

    public init(_ ruleSet: RuleSet) {
        self.ruleSet = ruleSet
        var nodes: ContiguousArray<Program.Node> = []
        var strings: [String] = []
        var lists: [Int32] = []
        var hot: ContiguousArray<HotRule> = []
        var timezones: [TimeZone?] = []
        var offsets: [(Int32, Int32)] = []
        var slotTotal = 0
        for rule in ruleSet.rules {
            let conditionOffset = Int32(nodes.count)
            let clearOffset = Int32(nodes.count) + Int32(rule.condition.nodes.count)
            offsets.append((conditionOffset, clearOffset))
            let root = rule.condition.append(to: &nodes, strings: &strings, lists: &lists)
            let clearRoot = rule.clear?.append(to: &nodes, strings: &strings, lists: &lists) ?? -1
            var hold: UInt8 = 0
            var seconds: Int64 = 0
            var n = 0
            var m = 0
            switch rule.hold {
            case nil: break
            case .duration(let d): (hold, seconds) = (1, d)
            case .reports(let count): (hold, n, m) = (2, count, count)
            case .reportsOf(let count, let of): (hold, n, m) = (2, count, of)
            }
            var clear: UInt8 = 0
            var clearSeconds: Int64 = 0
            switch rule.syntax.clearing {
            case nil: break
            case .after(let d): (clear, clearSeconds) = (1, d)
            case .when(_, for: nil): clear = 2
            case .when(_, for: .some(let d)): (clear, clearSeconds) = (3, d)
            }
            let tz = rule.syntax.timezone.flatMap { TimeZone(identifier: $0) }
            if tz != nil { timezones.append(tz) }
            hot.append(
                HotRule(
                    root: root, clearRoot: clearRoot, hold: hold, holdSeconds: seconds, holdN: n, holdM: m,
                    clear: clear, clearSeconds: clearSeconds, tracked: rule.isTracked, horizon: rule.horizon,
                    usesSilence: rule.usesSilence, usesAlerts: rule.usesAlerts, isOff: rule.mode == .off,
                    isScoped: !(rule.groups.isEmpty && rule.tuids.isEmpty), cooldown: rule.syntax.cooldown,
                    repeatEvery: rule.syntax.repeatEvery, repeatMax: rule.syntax.repeatMax,
                    timezone: tz == nil ? -1 : Int32(timezones.count - 1), slotStart: Int32(slotTotal),
                    slotCount: Int32(rule.slots.count)))
            slotTotal += rule.slots.count
        }
        self.hot = hot
        func logs(_ segment: CompiledRule.LogSegment) -> Bool {
            ruleSet.rules.contains { rule in
                (rule.actions + rule.resolveActions).contains { action in
                    guard case .log(let segments) = action else { return false }
                    return segments.contains(segment)
                }
            }
        }
        self.usesKind = nodes.contains { $0.kind == .kind } || logs(.kind)
        self.usesModel = nodes.contains { $0.kind == .model } || logs(.model)
        self.programOffsets = offsets
        self.nodes = nodes
        self.strings = strings
        self.lists = lists
        self.timezones = timezones
        self.silenceOffsets = ruleSet.rules.map(\.silenceOffsets)
        self.flatSlots = ruleSet.rules.flatMap(\.slots)
        self.scopes = ruleSet.rules.map { Scope(groups: $0.groups, tuids: $0.tuids) }
        var retained: [(Int, Int64, Int)] = []
        for slot in ruleSet.fieldNames.indices where ruleSet.retentionCount[slot] > 0 {
            retained.append((slot, ruleSet.retentionSeconds[slot], ruleSet.retentionCount[slot]))
        }
        self.retained = retained
        self.keepsHistory = ruleSet.fieldNames.indices.map { ruleSet.retentionCount[$0] > 0 }
        self.fieldKeys = ruleSet.fieldNames.map(FieldKey.init)
    }

    /// `CompiledRule.isInScope` without copying the rule.
    @inline(__always)
    private func isInScope(_ r: Int, tuid: String, group: String?) -> Bool? {
        hot[r].isScoped ? scopes[r].contains(tuid: tuid, group: group) : true
    }

    /// Fresh states for every rule, in rule order.
    public func initialStates() -> [RuleState] { Array(repeating: RuleState(), count: rules.count) }

    /// Applies messages to the observations only (sample-and-hold, history, de-duplication), tracking no rule.
    public func ingest(_ messages: [Message], into observations: inout DeviceObservations, now: Int64? = nil) {
        observations.bind(to: ruleSet.fieldNames)
        var touched: UInt64 = 0
        _ = apply(messages, to: &observations, now: now ?? Int64.max, touched: &touched)
    }

    /// One evaluation of every rule for one device at `now` (the API's clock, Unix seconds).
    ///
    /// `newMessages` are the device's messages fetched since the last cycle; they are placed in `tsmTs` order
    /// among what was seen before, and conditions with `for` are re-tracked from the earliest new report.
    /// Actions are then decided at `now`. With `observations.pollFailed` set nothing changes and nothing fires.
    public func evaluate(
        tuid: String, observations: inout DeviceObservations, newMessages: [Message], states: inout [RuleState],
        now: Int64
    ) -> [Firing] {
        var statusQueried = false
        return evaluate(
            tuid: tuid, observations: &observations, newMessages: newMessages, states: &states, now: now,
            statusQueried: &statusQueried)
    }

    /// `evaluate(tuid:…)`, also telling whether any condition needed `status` while it was unknown.
    ///
    /// The caller may evaluate with `status` left unknown rather than fetch it: conditions are three-valued and
    /// monotonic, so a condition that came out true or false without the status comes out the same with any status.
    /// `statusQueried` is set when an evaluation reached a `status` test while the status was unknown (`and`/`or`
    /// operands that read it are compiled last, so `temp > 8 and status is installed` reaches it only when warm):
    /// then, and only then, the result may depend on it, and the caller fetches it and evaluates again.
    ///
    /// `messagesAreUnique`: the caller de-duplicated the messages already, across calls (the scheduler's
    /// `DeviceSnapshot.admit`), so message times are kept only as long as `silence` and late placement need them
    /// (`RuleSet.uniqueMessageRetention`), not as long as the longest window.
    ///
    /// `reportsFrom`: no report older than this will be given in a later call (the scheduler drops those as stale,
    /// `DeviceSnapshot.admit`). It lets a `status` test reached before a point where the condition is false whatever
    /// the status, and older than this, count for nothing (see `track`): no later report can rewind the rule
    /// across that point onto the history recorded without the status.
    public func evaluate(
        tuid: String, observations: inout DeviceObservations, newMessages: [Message], states: inout [RuleState],
        now: Int64, statusQueried: inout Bool, messagesAreUnique: Bool = false, reportsFrom: Int64? = nil
    ) -> [Firing] {
        if observations.pollFailed { return [] }
        observations.bind(to: ruleSet.fieldNames)
        if states.count < rules.count {
            states += Array(repeating: RuleState(), count: rules.count - states.count)
        }
        var touched: UInt64 = 0
        var earliest = apply(newMessages, to: &observations, now: now, touched: &touched)
        let recorded = earliest != nil
        if let changed = alertChange(&observations) { earliest = min(earliest ?? changed, changed) }
        let kind = usesKind ? DeviceKind(tuid: tuid).rawValue : ""
        let model = usesModel ? TUID.model(of: tuid) : ""
        var firings: [Firing] = []
        var points: [Int64] = []
        nodes.withUnsafeBufferPointer { nodes in
            withUnsafeMutablePointer(to: &statusQueried) { statusQueried in
                var evaluator = Evaluator(
                    nodes: nodes, strings: strings, lists: lists, timezone: nil, model: model, kind: kind,
                    statusQueried: statusQueried)
                for r in hot.indices {
                    if hot[r].isOff || isInScope(r, tuid: tuid, group: observations.group) != true { continue }
                    if hot[r].timezone >= 0 { evaluator.timezone = timezones[Int(hot[r].timezone)] }
                    defer { if hot[r].timezone >= 0 { evaluator.timezone = nil } }
                    var atNow: Truth?
                    if hot[r].tracked {
                        atNow = track(
                            r, evaluator, observations, &states[r], from: earliest, now: now, reportsFrom: reportsFrom,
                            points: &points)
                    }
                    if let firing = decide(
                        r, evaluator, tuid: tuid, observations, state: &states[r], now: now, condition: atNow)
                    {
                        firings.append(firing)
                    }
                }
            }
        }
        // History grows only when a report arrives: trim only what grew (reading every series of every device
        // each time would cost a cache miss per field).
        if recorded {
            for (slot, seconds, count) in retained where touched & (1 << UInt64(min(slot, 63))) != 0 {
                observations.trim(
                    slot: slot, seconds: seconds, count: count, cap: RuleSet.maxSamplesPerField, now: now)
            }
            let retention = messagesAreUnique ? ruleSet.uniqueMessageRetention : ruleSet.messageRetention
            observations.trimMessages(seconds: retention, cap: RuleSet.maxSamplesPerField, now: now)
        }
        return firings
    }

    /// Evaluates one rule for one device; `state` is that pair's state. See `evaluate(tuid:…)`.
    public func evaluate(
        rule index: Int, tuid: String, observations: inout DeviceObservations, newMessages: [Message],
        state: inout RuleState, now: Int64
    ) -> [Firing] {
        var states = initialStates()
        states[index] = state
        let all = evaluate(tuid: tuid, observations: &observations, newMessages: newMessages, states: &states, now: now)
        state = states[index]
        return all.filter { $0.ruleIndex == index }
    }

    // MARK: Messages

    /// Records messages in `tsmTs` order (future times clamped, duplicates dropped); returns the earliest
    /// tsmTs recorded, from which tracked conditions must be re-evaluated.
    private func apply(
        _ input: [Message], to obs: inout DeviceObservations, now: Int64, touched: inout UInt64
    ) -> Int64? {
        if input.isEmpty { return nil }
        let limit = now == Int64.max ? now : now &+ Engine.clockTolerance
        // Read-only checks first: the common batch (in order, no clock error) is used without a copy.
        var inFuture = false
        var sorted = true
        var previous = Int64.min
        for i in input.indices {
            let time = input[i].tsmTs
            if time > limit { inFuture = true }
            if time < previous { sorted = false }
            previous = time
        }
        let messages: [Message]
        if inFuture || !sorted {
            var copy = input
            for i in copy.indices where copy[i].tsmTs > limit {
                copy[i].tsmTs = now
                obs.clockErrors += 1
            }
            copy.sort { $0.tsmTs < $1.tsmTs }
            messages = copy
        } else {
            messages = input
        }
        let names = ruleSet.fieldNames
        var earliest: Int64?
        // Indices and buffer pointers rather than `for message in`: binding each message would retain its
        // strings and arrays, a cost paid for every message of every device.
        for i in messages.indices {
            let time = messages[i].tsmTs
            let key = messages[i].tsmId << 16 | (messages[i].tsmEv & 0xFFFF)
            guard obs.recordMessage(time: time, key: key) else { continue }
            if earliest == nil { earliest = time }
            if obs.newestMessageTime.map({ $0 < time }) ?? true { obs.newestMessageTime = time }
            messages[i].numbers.withUnsafeBufferPointer { numbers in
                fieldKeys.withUnsafeBufferPointer { keys in
                    for p in numbers.indices {
                        let key = numbers[p].key
                        var slot = 0
                        if key != .none {
                            while slot < keys.count && keys[slot] != key { slot += 1 }
                        } else {
                            while slot < names.count && names[slot] != numbers[p].name { slot += 1 }
                        }
                        guard slot < names.count else { continue }
                        obs.record(slot: slot, time: time, number: numbers[p].value, keep: keepsHistory[slot])
                        touched |= 1 << UInt64(min(slot, 63))
                    }
                }
            }
            if !messages[i].strings.isEmpty {
                for property in messages[i].strings {
                    if let slot = names.firstIndex(of: property.name) {
                        obs.record(slot: slot, time: time, text: property.value, keep: keepsHistory[slot])
                        touched |= 1 << UInt64(min(slot, 63))
                    }
                }
            }
        }
        return earliest
    }

    /// The earliest time an alert episode first seen now (or changed) affects: its `from` (or `to`).
    private func alertChange(_ obs: inout DeviceObservations) -> Int64? {
        guard obs.alerts != obs.alertsSeen else { return nil }
        defer { obs.alertsSeen = obs.alerts }
        var earliest: Int64?
        let seen = obs.alertsSeen ?? []
        for episode in obs.alerts ?? [] where !seen.contains(episode) {
            var t = episode.from
            if let old = seen.first(where: { $0.type == episode.type && $0.from == episode.from }), let to = episode.to {
                t = old.to.map { min($0, to) } ?? to
            }
            earliest = min(earliest ?? t, t)
        }
        for episode in seen where !(obs.alerts ?? []).contains(episode) {
            earliest = min(earliest ?? episode.from, episode.from)
        }
        return earliest
    }

    // MARK: Tracking

    /// Re-evaluates a tracked rule at each device time from `from` (or where it stopped) to `now`: each
    /// report of its fields, alert boundaries, `silence` thresholds, and `now`. A late report rewinds the
    /// tracked changes to its own time first, so evaluation is as if reports had arrived in tsmTs order.
    /// Returns the condition's value at `now`.
    private func track(
        _ r: Int, _ evaluator: Evaluator, _ obs: DeviceObservations, _ state: inout RuleState, from: Int64?,
        now: Int64, reportsFrom: Int64?, points: inout [Int64]
    ) -> Truth {
        let rule = hot[r]
        // Reports stamped up to the clock tolerance ahead of `now` are tracked too.
        let end = max(now, obs.newestMessageTime ?? now)
        var start = state.trackedUntil.map { $0 &+ 1 } ?? (from ?? now)
        var rewound = false
        if let from, from < start {
            start = from
            rewound = true
            state.changes.removeAll { $0.time >= from }
            state.clearChanges.removeAll { $0.time >= from }
            state.reports.removeAll { $0.time >= from }
        }
        if start > end { start = end }
        points.removeAll(keepingCapacity: true)
        for k in Int(rule.slotStart)..<Int(rule.slotStart + rule.slotCount) {
            let slot = flatSlots[k]
            // The held value is the newest report: nothing new for this field, and its history stays untouched
            // (one array less to read from memory for every rule of every device).
            if obs.times[slot] < start { continue }
            let count = obs.history[slot].samples.count
            if count == 0 {
                if obs.kinds[slot] != DeviceObservations.unseen, obs.times[slot] >= start, obs.times[slot] <= end {
                    points.append(obs.times[slot])
                }
                continue
            }
            var i = count - 1
            while i >= 0 {
                let t = obs.history[slot].samples[i].time
                if t < start { break }
                if t <= end { points.append(t) }
                i -= 1
            }
        }
        if rule.hold == 2 {
            points.sort()
            var reportTimes: [Int64] = []
            for t in points where reportTimes.last != t { reportTimes.append(t) }
            for t in reportTimes {
                let truth = evaluator.ruleTruth(rule.root, obs, t)
                state.reports.append(TruthChange(time: t, truth: truth))
            }
            if state.reports.count > rule.holdM { state.reports.removeFirst(state.reports.count - rule.holdM) }
            var inARow = 0
            for report in state.reports.reversed() {
                if report.truth != .yes { break }
                inARow += 1
            }
            state.reportsInARow = inARow
        }
        if rule.usesAlerts, let alerts = obs.alerts {
            for episode in alerts {
                if episode.from >= start && episode.from <= end { points.append(episode.from) }
                if let to = episode.to, to >= start, to <= end { points.append(to) }
            }
        }
        if rule.usesSilence {
            var bases: [Int64] = []
            if let base = obs.silenceBase(at: start) { bases.append(base) }
            if let i = DeviceObservations.lastMessage(obs.messages, atOrBefore: end) {
                var j = i
                while j >= 0 && obs.messages[j].time >= start {
                    bases.append(obs.messages[j].time)
                    points.append(obs.messages[j].time)
                    j -= 1
                }
            }
            for base in bases {
                for offset in silenceOffsets[r] {
                    let t = base &+ offset
                    if t >= start && t <= end { points.append(t) }
                }
            }
        }
        points.append(now)
        if points.count > 1 { points.sort() }
        var last: Int64 = Int64.min
        var atNow = Truth.unknown
        var current = rewound ? state.changes.last?.truth : (state.trackedTruth ?? state.changes.last?.truth)
        var changed = false
        // An unknown status matters to this rule only from the newest point where its condition is false whatever
        // the status: what is decided at `now` reads the changes since then (`holdingSince`, the phase), and a run
        // before it (a cold room warm this morning, cold again since) changes nothing — provided no later call can
        // rewind the rule across that point: it must be older than any report still to come (`reportsFrom`), and the
        // rule must not read alerts (an episode learnt late rewinds to its own time). Not so either for a tracked
        // `clear when … for`, whose own run this loop also probes, nor for a firing rule's `clear after`, measured
        // from the first not-true change after the last true one (`notTrueSince`). What `for N of M reports` probed
        // above, before this loop, is kept (`queriedBefore`).
        let supersedesBefore =
            rule.clear != 3 && !(rule.clear == 1 && state.phase == .firing) && !rule.usesAlerts
            ? (reportsFrom ?? Int64.min) : Int64.min
        let queriedBefore = evaluator.statusQueried?.pointee ?? false
        for t in points where t != last {
            last = t
            let truth = evaluator.ruleTruth(rule.root, obs, t)
            if truth == .no, t < supersedesBefore, let probe = evaluator.statusQueried { probe.pointee = queriedBefore }
            if t == now { atNow = truth }
            if current != truth {
                state.changes.append(TruthChange(time: t, truth: truth))
                current = truth
                changed = true
            }
            if rule.clear == 3 {
                let clear = evaluator.ruleTruth(rule.clearRoot, obs, t)
                if state.clearChanges.last?.truth != clear {
                    state.clearChanges.append(TruthChange(time: t, truth: clear))
                }
            }
        }
        state.trackedUntil = end
        state.trackedTruth = current
        if changed || rewound {
            state.holdingSince = state.changes.last.flatMap { $0.truth == .yes ? $0.time : nil }
            Engine.trim(&state.changes, before: now &- rule.horizon)
        }
        if rule.clear == 3 { Engine.trim(&state.clearChanges, before: now &- rule.horizon) }
        return atNow
    }

    /// Drops changes older than `time`, keeping the last one before it (the value in force at `time`).
    static func trim(_ changes: inout [TruthChange], before time: Int64) {
        var drop = 0
        while drop + 1 < changes.count && changes[drop + 1].time <= time { drop += 1 }
        drop = max(drop, changes.count - maxChanges)
        if drop > 0 { changes.removeFirst(drop) }
    }

    // MARK: Decisions

    /// Whether the rule's `for` is satisfied at `now`.
    func held(_ rule: HotRule, _ state: RuleState, now: Int64) -> Bool {
        switch rule.hold {
        case 1: return state.holdingSince.map { $0 <= now &- rule.holdSeconds } ?? false
        case 2: return state.reports.count(where: { $0.truth == .yes }) >= rule.holdN
        default: return true
        }
    }

    /// Whether a firing episode has ended at `now`.
    func resolved(_ rule: HotRule, _ evaluator: Evaluator, _ obs: DeviceObservations, _ state: RuleState,
        condition: Truth, now: Int64) -> Truth
    {
        switch rule.clear {
        case 1:
            guard condition != .yes, let since = state.notTrueSince else { return .no }
            return since <= now &- rule.clearSeconds ? .yes : .no
        case 2:
            let clear = evaluator.ruleTruth(rule.clearRoot, obs, now)
            return clear == .yes ? .yes : (clear == .unknown ? .unknown : .no)
        case 3:
            guard let since = state.clearHoldingSince else {
                return state.clearChanges.last?.truth == .unknown ? .unknown : .no
            }
            return since <= now &- rule.clearSeconds ? .yes : .no
        default:
            if rule.hold == 2 { return held(rule, state, now: now) ? .no : .yes }
            return condition == .yes ? .no : .yes
        }
    }

    /// The state machine step at `now`: level conditions, edge actions.
    private func decide(
        _ r: Int, _ evaluator: Evaluator, tuid: String, _ obs: DeviceObservations, state: inout RuleState, now: Int64,
        condition known: Truth?
    ) -> Firing? {
        let rule = hot[r]
        let condition = known ?? evaluator.ruleTruth(rule.root, obs, now)
        switch state.phase {
        case .inactive, .pending:
            let isHeld = held(rule, state, now: now)
            let active = rule.hold == 2 ? isHeld || condition == .yes : condition == .yes
            guard active else {
                if state.phase != .inactive {
                    state.phase = .inactive
                    state.phaseSince = now
                }
                return nil
            }
            let cooledDown = rule.cooldown.flatMap { c in state.firedAt.map { now >= $0 &+ c } } ?? true
            if isHeld && cooledDown && (rule.hold == 2 || condition == .yes) {
                state.phase = .firing
                state.phaseSince = now
                state.firedAt = now
                state.emittedAt = now
                state.repeatsDone = 0
                state.sequence += 1
                return firing(r, evaluator, tuid: tuid, obs, state, now: now, transition: .firing)
            }
            if state.phase != .pending {
                state.phase = .pending
                state.phaseSince = now
            }
            return nil
        case .firing:
            switch resolved(rule, evaluator, obs, state, condition: condition, now: now) {
            case .yes:
                state.phase = .inactive
                state.phaseSince = now
                state.resolvedAt = now
                if rules[r].resolveActions.isEmpty { return nil }
                return firing(r, evaluator, tuid: tuid, obs, state, now: now, transition: .resolved)
            case .unknown, .no:
                guard let every = rule.repeatEvery,
                    rule.repeatMax.map({ state.repeatsDone < $0 }) ?? true,
                    let emitted = state.emittedAt, now &- emitted >= every
                else { return nil }
                state.repeatsDone += 1
                state.emittedAt = now
                state.sequence += 1
                return firing(r, evaluator, tuid: tuid, obs, state, now: now, transition: .repeating)
            }
        }
    }

    /// When the cooldown after the last firing ends, if there is one.
    func cooldownEnd(_ rule: CompiledRule, _ state: RuleState) -> Int64? {
        guard let cooldown = rule.syntax.cooldown, let fired = state.firedAt else { return nil }
        return fired &+ cooldown
    }

    private func firing(
        _ r: Int, _ evaluator: Evaluator, tuid: String, _ obs: DeviceObservations, _ state: RuleState, now: Int64,
        transition: Transition
    ) -> Firing {
        let rule = rules[r]
        let source = transition == .resolved ? rule.resolveActions : rule.actions
        let actions = source.map { action -> Action in
            switch action {
            case .fixed(let a): return a
            case .log(let segments): return .log(render(segments, rule: rule, tuid: tuid, evaluator, obs, now: now))
            }
        }
        return Firing(
            rule: rule.name, ruleIndex: r, tuid: tuid, time: now, sequence: state.sequence,
            isRepeat: transition == .repeating, transition: transition, shadow: rule.mode == .shadow,
            severity: rule.severity, values: values(r, evaluator, obs, now: now), actions: actions)
    }

    /// The condition's fields and windows at `now`, as text.
    func values(_ r: Int, _ evaluator: Evaluator, _ obs: DeviceObservations, now: Int64) -> [String: String] {
        let rule = rules[r]
        var result: [String: String] = [:]
        var programs = [(rule.condition, programOffsets[r].condition)]
        if let clear = rule.clear { programs.append((clear, programOffsets[r].clear)) }
        for (program, base) in programs {
            for (label, node, isText) in program.values {
                let index = node + base
                if label == "silence" {
                    result[label] = obs.silenceBase(at: now).map { DurationText.format(now &- $0) } ?? "?"
                } else if isText {
                    result[label] = evaluator.text(index, obs, now) ?? "?"
                } else {
                    let v = evaluator.number(index, obs, now)
                    result[label] = v.isNaN ? "?" : formatNumber(v)
                }
            }
        }
        return result
    }

    private func render(
        _ segments: [CompiledRule.LogSegment], rule: CompiledRule, tuid: String, _ evaluator: Evaluator,
        _ obs: DeviceObservations, now: Int64
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
            case .silence: text += obs.silenceBase(at: now).map { DurationText.format(now &- $0) } ?? "?"
            case .model: text += evaluator.model
            case .kind: text += evaluator.kind
            case .severity: text += rule.severity?.rawValue ?? "?"
            case .unknown: text += "?"
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
func humanDuration(_ seconds: Int64) -> String { DurationText.format(seconds) }
