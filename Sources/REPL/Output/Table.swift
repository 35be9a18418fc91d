import Foundation
import ThingseeAPI

/// A plain text table: a header row, aligned columns, no borders.
public struct Table: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String]]

    public init(columns: [String], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }

    public func render(colour: Bool = false) -> String {
        if rows.isEmpty { return "(none)\n" }
        let columns = self.columns.map(Self.inert)
        let rows = self.rows.map { $0.map(Self.inert) }
        var widths = columns.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for (i, cell) in cells.enumerated() {
                let last = i == cells.count - 1
                parts.append(last ? cell : cell + String(repeating: " ", count: max(0, widths[i] - cell.count)))
            }
            return parts.joined(separator: "  ")
        }
        let header = line(columns)
        var out = (colour ? "\u{1B}[1m\(header)\u{1B}[0m" : header) + "\n"
        for row in rows { out += line(row) + "\n" }
        return out
    }
}

extension Table {
    /// `text` with control characters (C0, DEL, C1: terminal escapes, carriage returns, …) shown as `\u{1B}`-style
    /// escapes, so that text from the API or from rule files can never drive the terminal.
    public static func inert(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value)
    }
}

/// Times for people: ISO-8601 plus how long ago.
public enum TimeText {
    /// `2026-11-20T10:02:00Z (12 min ago)`.
    public static func describe(_ unix: Int64?, now: Int64) -> String {
        guard let unix else { return "-" }
        return "\(ISOTime.format(unix)) (\(ago(unix, now: now)))"
    }

    /// `12 min ago`, `just now`, `in 3 h`.
    public static func ago(_ unix: Int64, now: Int64) -> String {
        let d = now - unix
        if abs(d) < 5 { return "just now" }
        return d > 0 ? "\(TimeExpression.describe(seconds: d)) ago" : "in \(TimeExpression.describe(seconds: d))"
    }
}

extension JSONValue {
    /// A value as a table cell: strings without quotes, numbers plainly, anything else as compact JSON.
    var cell: String {
        switch self {
        case .string(let s): s
        case .null: "-"
        default: description
        }
    }
}
