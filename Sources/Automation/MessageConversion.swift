import Rules
import ThingseeAPI

/// Turns API messages into the rules engine's messages, keeping only the properties the rules read.
public struct MessageConversion: Sendable {
    /// The properties kept; nil keeps all.
    let fields: Set<String>?

    public init(needs: RuleNeeds) {
        // `battery` reads `batl`.
        fields = Set(needs.messageFields).union(["batl"])
    }

    /// A conversion that keeps every property.
    public static let everything = MessageConversion(fields: nil)

    private init(fields: Set<String>?) { self.fields = fields }

    public func convert(_ message: ThingseeAPI.Message) -> Rules.Message {
        var numbers: [NumberProperty] = []
        var strings: [StringProperty] = []
        for (name, value) in message.properties where fields?.contains(name) ?? true {
            switch value {
            case .number(let n): numbers.append(NumberProperty(name: name, value: n))
            case .bool(let b): numbers.append(NumberProperty(name: name, value: b ? 1 : 0))
            case .string(let s):
                if let n = Double(s) {
                    numbers.append(NumberProperty(name: name, value: n))
                } else {
                    strings.append(StringProperty(name: name, value: s))
                }
            default: break
            }
        }
        return Rules.Message(
            tsmId: message.tsmId, tsmEv: message.tsmEv, tsmTs: message.tsmTs, tsmTuid: message.tsmTuid,
            numbers: numbers, strings: strings)
    }

    static func episodes(_ records: [AlertRecord]) -> [Rules.AlertEpisode] {
        records.flatMap { record in
            record.episodes.map { Rules.AlertEpisode(type: record.alertType, from: $0.from, to: $0.to) }
        }
    }
}
