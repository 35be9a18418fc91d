import Rules
import ThingseeAPI

/// Turns API messages into the rules engine's messages, keeping only the properties the rules read.
public struct MessageConversion: Sendable {
    /// The properties kept, never a header key; nil keeps all.
    let fields: [String]?

    public init(needs: RuleNeeds) {
        // `battery` reads `batl`.
        fields = Set(needs.messageFields).union(["batl"]).subtracting(ThingseeAPI.Message.headerKeys).sorted()
    }

    /// A conversion that keeps every property.
    public static let everything = MessageConversion(fields: nil)

    private init(fields: [String]?) { self.fields = fields }

    public func convert(_ message: ThingseeAPI.Message) -> Rules.Message {
        var numbers: [NumberProperty] = []
        var strings: [StringProperty] = []
        func add(_ name: String, _ value: JSONValue) {
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
        if let fields, case .object(let object) = message.raw {
            // The rules read a few fields of each message: look those up rather than walk every property.
            for name in fields { if let value = object[name] { add(name, value) } }
        } else {
            for (name, value) in message.properties { add(name, value) }
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
