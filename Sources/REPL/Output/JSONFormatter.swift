import ThingseeAPI

/// Indented JSON with sorted keys, for people and for `jq` alike.
public enum JSONFormatter {
    public static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let o):
            if o.isEmpty { return "{}" }
            let lines = o.keys.sorted().map { key in
                inner + JSONValue.string(key).description + ": " + pretty(o[key]!, indent: inner)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.description
        }
    }
}

/// CSV (RFC 4180) of a list of objects: one column per key, nested values as compact JSON.
public enum CSVFormatter {
    public static func format(_ value: JSONValue) -> String {
        let rows: [JSONValue] = value.arrayValue ?? [value]
        var keys: [String] = []
        var seen = Set<String>()
        for row in rows {
            for key in (row.objectValue?.keys.sorted() ?? ["value"]) where seen.insert(key).inserted {
                keys.append(key)
            }
        }
        var out = keys.map(field).joined(separator: ",") + "\r\n"
        for row in rows {
            let cells = keys.map { key -> String in
                let v = row.objectValue.map { $0[key] } ?? (key == "value" ? row : nil)
                switch v {
                case nil, .null?: return ""
                case .string(let s)?: return field(s)
                case let other?: return field(other.description)
                }
            }
            out += cells.joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func field(_ s: String) -> String {
        guard s.contains(where: { ",\"\r\n".contains($0) }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
