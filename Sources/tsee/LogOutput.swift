import Foundation
import Logging

/// How `tsee run` writes its log: the scheduler reports events through swift-log with metadata; this handler
/// chooses the wording on stderr.
///
/// `text`: one line per event, `tsee run: …`, with the device and rule first where there is one and the
/// remaining metadata as `key=value`. `json`: one object per line with `ts`, `level`, `msg` and every metadata
/// key. Neither ever sees a secret: the scheduler's events carry none.
struct LogOutput: LogHandler {
    enum Format: String, CaseIterable, Sendable {
        case text, json
    }

    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let write: @Sendable (String) -> Void

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        switch format {
        case .json: write(Self.json(event, all))
        case .text: write(Self.text(event, all))
        }
    }

    /// Keys shown in their own place in text lines rather than as `key=value`.
    private static let placed: Set<String> = ["tuid", "rule", "cycle", "event", "summary"]

    static func text(_ event: LogEvent, _ metadata: Logger.Metadata) -> String {
        if metadata["event"]?.description == "cycle", let summary = metadata["summary"] {
            return "tsee run: \(summary)\n"
        }
        var line = "tsee run: "
        if let tuid = metadata["tuid"] { line += "\(tuid): " }
        if let rule = metadata["rule"] { line += "\(rule): " }
        line += event.message.description
        let rest = metadata.filter { !placed.contains($0.key) }.sorted { $0.key < $1.key }
        if !rest.isEmpty { line += " (" + rest.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + ")" }
        return line + "\n"
    }

    static func json(_ event: LogEvent, _ metadata: Logger.Metadata) -> String {
        var object: [String: Any] = [
            "ts": ISO8601DateFormatter().string(from: Date()), "level": event.level.rawValue,
            "msg": event.message.description,
        ]
        for (key, value) in metadata where key != "summary" { object[key] = Self.plain(value) }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let values): return values.map(plain)
        case .dictionary(let d): return d.mapValues(plain)
        }
    }
}
