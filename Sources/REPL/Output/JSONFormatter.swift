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
///
/// Output is inert: a text cell that a spreadsheet would run as a formula (starting with `=`, `+`, `-` or `@`) is
/// prefixed with `'`. Numbers are numbers, never prefixed (a negative temperature stays `-3.5`).
public enum CSVFormatter {
    public static func format(_ value: JSONValue, columns: [String]? = nil) -> String {
        let rows: [JSONValue] = value.arrayValue ?? [value]
        var keys: [String] = columns ?? []
        var seen = Set<String>(keys)
        for row in rows where columns == nil {
            for key in (row.objectValue?.keys.sorted() ?? ["value"]) where seen.insert(key).inserted {
                keys.append(key)
            }
        }
        var out = keys.map(field).joined(separator: ",") + "\r\n"
        for row in rows {
            let cells = keys.map { key -> String in
                cell(row.objectValue.map { $0[key] } ?? (key == "value" ? row : nil))
            }
            out += cells.joined(separator: ",") + "\r\n"
        }
        return out
    }

    /// One value as a CSV cell: empty for nothing, numbers plainly, text made inert, nested values as JSON.
    public static func cell(_ value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return ""
        case .string(let s)?: return field(inert(s))
        case .number(let n)?: return field(JSONValue.number(n).description)
        case .bool(let b)?: return b ? "true" : "false"
        case let other?: return field(inert(other.description))
        }
    }

    /// `s`, prefixed with `'` when a spreadsheet would take it for a formula.
    public static func inert(_ s: String) -> String {
        guard let first = s.unicodeScalars.first, "=+-@".unicodeScalars.contains(first) else { return s }
        return "'" + s
    }

    static func field(_ s: String) -> String {
        guard s.contains(where: { ",\"\r\n".contains($0) }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
