import Foundation

/// One measured number, with its target when it has one.
struct Metric: Sendable {
    enum Target: Sendable {
        case atLeast(Double)
        case atMost(Double)

        var text: String {
            switch self {
            case .atLeast(let v): "≥ \(format(v))"
            case .atMost(let v): "≤ \(format(v))"
            }
        }

        func passes(_ value: Double) -> Bool {
            switch self {
            case .atLeast(let v): value >= v
            case .atMost(let v): value <= v
            }
        }
    }

    var name: String
    var value: Double
    var unit: String
    var target: Target?
    /// How the number was made: repetitions, sizes.
    var note: String = ""
    /// Each repetition's value, when the reported one is their median.
    var samples: [Double] = []

    var verdict: String {
        guard let target else { return "" }
        return target.passes(value) ? "pass" : "MISS"
    }
}

/// Collects metrics, prints them as a table and writes them as JSON.
final class Report {
    private(set) var metrics: [Metric] = []
    var machine: [String: String] = [:]

    func add(_ metric: Metric) {
        metrics.append(metric)
        let target = metric.target.map { " (target \($0.text) \(metric.unit): \(metric.verdict))" } ?? ""
        log("  \(metric.name): \(format(metric.value)) \(metric.unit)\(target)")
    }

    func table() -> String {
        let header = ["metric", "value", "target", "result"]
        let rows = metrics.map { m in
            [m.name, "\(format(m.value)) \(m.unit)", m.target.map { "\($0.text) \(m.unit)" } ?? "—", m.verdict]
        }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == 1 ? String(repeating: " ", count: widths[i] - cell.count) + cell
                    : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        var text = line(header) + "\n" + line(widths.map { String(repeating: "-", count: $0) }) + "\n"
        for row in rows { text += line(row) + "\n" }
        return text
    }

    func json() -> Data {
        let items: [[String: Any]] = metrics.map { m in
            var item: [String: Any] = ["name": m.name, "value": m.value, "unit": m.unit]
            if let target = m.target {
                item["target"] = target.text
                item["pass"] = target.passes(m.value)
            }
            if !m.note.isEmpty { item["note"] = m.note }
            if !m.samples.isEmpty { item["samples"] = m.samples }
            return item
        }
        let document: [String: Any] = ["machine": machine, "metrics": items]
        return (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])) ?? Data()
    }
}

/// Progress goes to stderr so stdout holds only the table.
func log(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Numbers as a reader wants them: 3 significant digits for small values, thousands grouped for large ones.
func format(_ value: Double) -> String {
    if value.isNaN { return "n/a" }
    let magnitude = abs(value)
    if magnitude >= 10_000 {
        let digits = String(Int64(value.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
    if magnitude >= 100 { return String(format: "%.0f", value) }
    if magnitude >= 10 { return String(format: "%.1f", value) }
    if magnitude >= 1 { return String(format: "%.2f", value) }
    return String(format: "%.3f", value)
}

func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Seconds of a closure's run on the monotonic clock.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func elapsedSeconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}
