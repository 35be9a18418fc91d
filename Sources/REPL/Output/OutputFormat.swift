import ThingseeAPI

/// How results are printed.
public enum OutputFormat: String, Sendable, CaseIterable {
    case table, json, jsonl, csv

    public static func parse(_ text: String) throws(CommandError) -> OutputFormat {
        guard let f = OutputFormat(rawValue: text.lowercased()) else {
            throw .usage("unknown output format `\(text)`; expected table, json, jsonl or csv")
        }
        return f
    }
}

/// A command's result: the data (the API's `data` payload, for `-o json`) and how to show it as a table.
public struct Rendered: Sendable {
    public var data: JSONValue
    public var table: Table?
    /// Text shown instead of a table (a chart, a confirmation summary).
    public var text: String?
    /// The CSV columns in order (default: every key of the rows, sorted).
    public var csvColumns: [String]?

    public init(data: JSONValue, table: Table? = nil, text: String? = nil, csvColumns: [String]? = nil) {
        self.data = data
        self.table = table
        self.text = text
        self.csvColumns = csvColumns
    }

    /// The result printed in `format`.
    public func formatted(_ format: OutputFormat, colour: Bool = false) -> String {
        switch format {
        case .table:
            if let text {
                let shown = Table.inertText(text)
                return shown.hasSuffix("\n") ? shown : shown + "\n"
            }
            if let table { return table.render(colour: colour) }
            return JSONFormatter.pretty(data) + "\n"
        case .json:
            return JSONFormatter.pretty(data) + "\n"
        case .jsonl:
            if case .array(let items) = data { return items.map { $0.description + "\n" }.joined() }
            return data.description + "\n"
        case .csv:
            return CSVFormatter.format(data, columns: csvColumns)
        }
    }
}
