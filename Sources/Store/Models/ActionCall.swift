import Foundation

/// What one logged action asks of the API (or of a webhook), typed.
///
/// The scheduler plans these, the store persists them (as `action` and the `parameters` JSON column), and the same
/// value read back drives both the live call and the reconciliation after a crash: nothing is parsed by field name
/// anywhere else. The JSON text keeps the layout older databases have (`{"status":"quarantine"}`,
/// `{"tsmId":1500,"reportInterval":60}`, `{"group":"…"}`, `{"text":"…"}`).
public enum ActionCall: Sendable, Hashable {
    /// Post an installation status.
    case move(status: String)
    /// Post one command (`tsmEv` 30) with these parameters (read back in name order).
    case send(tsmId: Int, parameters: [Parameter])
    /// Post the device's deployment group.
    case assign(group: String)
    /// Record text; no call.
    case log(text: String)
    /// POST `body` (JSON text) to `target` (a URL or the name of a configured notification target).
    case notify(target: String, body: String)

    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: Double
        public init(name: String, value: Double) {
            self.name = name
            self.value = value
        }
    }

    public var kind: ActionKind {
        switch self {
        case .move: .move
        case .send: .send
        case .assign: .assign
        case .log: .log
        case .notify: .notify
        }
    }

    /// The `parameters` column's JSON text.
    public var parametersJSON: String {
        let object: [String: Any]
        switch self {
        case .move(let status): object = ["status": status]
        case .send(let tsmId, let parameters):
            var o: [String: Any] = ["tsmId": tsmId]
            for p in parameters { o[p.name] = Self.number(p.value) }
            object = o
        case .assign(let group): object = ["group": group]
        case .log(let text): object = ["text": text]
        case .notify(let target, let body):
            object = ["target": target, "body": (try? JSONSerialization.jsonObject(with: Data(body.utf8))) ?? body]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Reads a logged action back; nil when the row does not describe a complete call of its kind.
    public init?(kind: ActionKind, parametersJSON: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(parametersJSON.utf8))) as? [String: Any]
        else { return nil }
        switch kind {
        case .move:
            guard let status = object["status"] as? String else { return nil }
            self = .move(status: status)
        case .assign:
            guard let group = object["group"] as? String else { return nil }
            self = .assign(group: group)
        case .log:
            self = .log(text: object["text"] as? String ?? "")
        case .notify:
            guard let target = object["target"] as? String else { return nil }
            let body = object["body"].flatMap { value -> String? in
                if let text = value as? String { return text }
                guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else {
                    return nil
                }
                return String(decoding: data, as: UTF8.self)
            }
            self = .notify(target: target, body: body ?? "{}")
        case .send:
            guard let tsmId = (object["tsmId"] as? NSNumber)?.intValue else { return nil }
            let names = object.keys.filter { $0 != "tsmId" }.sorted()
            var parameters: [Parameter] = []
            for name in names {
                guard let value = (object[name] as? NSNumber)?.doubleValue else { return nil }
                parameters.append(Parameter(name: name, value: value))
            }
            self = .send(tsmId: tsmId, parameters: parameters)
        }
    }

    private static func number(_ value: Double) -> Any {
        if value.rounded() == value, abs(value) < 1e15 { return Int64(value) }
        return value
    }
}

extension ActionRecord {
    /// The typed call this row logged, or nil for a row that does not describe one.
    public var call: ActionCall? { ActionCall(kind: kind, parametersJSON: parameters) }
}

extension ActionIntent {
    /// An intent for `call`, its kind and parameters taken from it.
    public init(
        time: Int64, rule: String, tuid: String, sequence: Int64, actionIndex: Int, resolved: Bool = false,
        call: ActionCall, dryRun: Bool, transactionID: Int64? = nil, outcome: ActionOutcome? = nil,
        error: String? = nil, why: String? = nil, severity: String? = nil
    ) {
        let key = FiringKey(
            rule: rule, tuid: tuid, sequence: sequence, actionIndex: actionIndex, dryRun: dryRun, resolved: resolved)
        self.init(
            time: time, rule: rule, tuid: tuid, kind: call.kind, parameters: call.parametersJSON, dryRun: dryRun,
            firingKey: key.description, transactionID: transactionID, outcome: outcome, error: error, why: why,
            severity: severity)
    }
}
