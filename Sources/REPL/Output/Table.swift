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

    /// Multi-line `text` made inert like a cell, keeping what text output itself uses: newlines, tabs and colour
    /// (SGR: `ESC [ digits ; … m`, which can only change colours). Every other escape — cursor moves, window
    /// titles, hyperlinks, a carriage return that overwrites a line — arrives in a value from the API and is shown
    /// as `\u{1B}`-style text instead of acting on the terminal.
    public static func inertText(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) && $0 != "\n" && $0 != "\t" }) else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let scalar = scalars[i]
            if scalar == "\u{1B}", i + 1 < scalars.count, scalars[i + 1] == "[" {
                var j = i + 2
                while j < scalars.count, ("0"..."9").contains(scalars[j]) || scalars[j] == ";" { j += 1 }
                if j < scalars.count, scalars[j] == "m" {
                    out.append(contentsOf: scalars[i...j])
                    i = j + 1
                    continue
                }
            }
            if isControl(scalar) && scalar != "\n" && scalar != "\t" {
                out.append(contentsOf: ("\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}").unicodeScalars)
            } else {
                out.append(scalar)
            }
            i += 1
        }
        return String(out)
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
