import Automation
import Rules
import ThingseeAPI

/// A `--where` condition: a rule expression parsed, checked and evaluated exactly as in rule files.
///
/// The expression is compiled as the condition of a one-rule set (`rule where: when EXPR then log "…"`) through
/// the rules engine's public parser, so its syntax, diagnostics and meaning are those of rule files; the
/// diagnostics' columns are mapped back to the expression as typed.
public struct WhereExpression: Sendable {
    public let text: String
    let engine: Engine
    /// What the condition reads, so that only that is fetched.
    public let needs: RuleNeeds
    /// Whether the condition reads `silence` (the time since the newest message).
    public let readsSilence: Bool
    /// Warnings of the parser (an undocumented alert type, …).
    public let warnings: [String]

    static let prefix = "rule where: when "
    static let suffix = " then log \"where\""

    /// Compiles `text`; a problem is a usage error that shows the diagnostic under the expression.
    public static func compile(_ text: String) throws(CommandError) -> WhereExpression {
        let flat = String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\t" ? " " : $0 })
        guard !flat.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw .usage("--where needs a condition, e.g. --where 'battery below 20'")
        }
        let (ruleSet, diagnostics) = RuleSet.parse(file: "--where", text: prefix + flat + suffix)
        // An unknown field would make every device's condition unknown and select nothing without a word: in a
        // one-off selection that is an error, whatever severity the rule files give it.
        let errors = diagnostics.filter { $0.severity == .error || $0.message.hasPrefix("unknown field") }
        if var first = errors.first {
            first.severity = .error
            throw .usage(describe(first, in: flat))
        }
        guard ruleSet.rules.count == 1, let rule = ruleSet.rules.first, rule.syntax.actions == [.log("where")],
            rule.groups.isEmpty, rule.tuids.isEmpty, rule.hold == nil, rule.syntax.clear == nil,
            rule.syntax.cooldown == nil, rule.syntax.repeatEvery == nil, rule.mode == .live
        else {
            throw .usage(
                "--where takes a condition only, as after `when` in a rule file: no `for`, clauses, actions or "
                    + "further rules (`\(text)`)")
        }
        let words = Set(flat.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" }).map(String.init))
        return WhereExpression(
            text: flat, engine: Engine(ruleSet), needs: rule.needs, readsSilence: words.contains("silence"),
            warnings: diagnostics.filter { $0.severity == .warning && !$0.message.hasPrefix("unknown field") }.map {
                describe($0, in: flat)
            })
    }

    /// `--where:1:9: error: unknown field …`, the hint, then the expression with a caret under the column.
    static func describe(_ diagnostic: Diagnostic, in expression: String) -> String {
        let column = min(max(1, diagnostic.column - prefix.count), expression.count + 1)
        var mapped = diagnostic
        mapped.location = SourceLocation(file: "--where", line: 1, column: column)
        return mapped.description + "\n  " + expression + "\n  " + String(repeating: " ", count: column - 1) + "^"
    }

    /// Fields of messages the condition reads, by the message id (tsmId) that carries them; `nil` for a field
    /// whose message id is not known (then every message is read).
    public var messageIDs: [Int]? {
        var ids = Set<Int>()
        for field in needs.messageFields {
            guard let id = Self.messageID[field] else { return nil }
            ids.insert(id)
        }
        return ids.sorted()
    }

    /// The message id of each catalogue field.
    static let messageID: [String: Int] = [
        "batl": 1110, "chrg": 1110, "temp": 12100, "humd": 12100, "airp": 12100, "lght": 12100, "hall": 12101,
        "hallCount": 12101, "moveCount": 13100, "in": 13103, "out": 13103, "totalIn": 13103, "totalOut": 13103,
        "state": 2100, "dist": 17100, "carbonDioxide": 24100, "tvoc": 24101,
    ]

    /// Whether the condition is true for a device (false and unknown both leave it out, as a rule does not fire).
    ///
    /// Evaluated by the engine's own per-device step, from a fresh state: a rule with no `for` fires exactly when
    /// its condition is true.
    public func matches(_ device: DeviceFacts, now: Int64) -> Bool {
        var observations = DeviceObservations(
            status: device.status, group: device.group, firmware: device.firmware, batteryLevel: device.batteryLevel,
            alerts: device.alerts?.map { Rules.AlertEpisode(type: $0.type, from: $0.from, to: $0.to) })
        var messages = device.messages.map(Self.convert)
        if let lastSeen = device.lastSeen, !messages.contains(where: { $0.tsmTs >= lastSeen }) {
            // Thing info's `timestamp` is the device's last report: it tells `silence` when no message was read.
            messages.append(
                Rules.Message(tsmId: 0, tsmEv: 0, tsmTs: lastSeen, tsmTuid: device.tuid, numbers: [], strings: []))
        }
        var states = [RuleState()]
        return !engine.evaluate(
            tuid: device.tuid, observations: &observations, newMessages: messages, states: &states, now: now
        ).isEmpty
    }

    static func convert(_ message: ThingseeAPI.Message) -> Rules.Message {
        MessageConversion.everything.convert(message)
    }
}
