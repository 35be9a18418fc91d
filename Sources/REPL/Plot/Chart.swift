import Foundation
import ThingseeAPI

/// One point of a plotted series.
public struct SeriesPoint: Sendable, Equatable {
    public var ts: Int64
    public var value: Double
    public init(ts: Int64, value: Double) {
        self.ts = ts
        self.value = value
    }
}

/// A terminal line chart in Unicode braille (2×4 dots per character cell), with y-axis labels, the time range,
/// and the minimum and maximum.
public struct Chart: Sendable {
    public var title: String
    public var points: [SeriesPoint]
    /// Plot area in character cells, axis labels not included.
    public var width: Int
    public var height: Int

    public init(title: String, points: [SeriesPoint], width: Int = 60, height: Int = 12) {
        self.title = title
        self.points = points.sorted { $0.ts < $1.ts }
        self.width = max(width, 10)
        self.height = max(height, 3)
    }

    public func render(from: Int64? = nil, to: Int64? = nil) -> String {
        guard let first = points.first, let last = points.last else { return "\(title): no values\n" }
        let t0 = min(from ?? first.ts, first.ts), t1 = max(to ?? last.ts, last.ts)
        var lo = points.map(\.value).min()!, hi = points.map(\.value).max()!
        let minPoint = points.first { $0.value == lo }!, maxPoint = points.first { $0.value == hi }!
        if lo == hi {
            lo -= 1
            hi += 1
        }
        let dotsX = width * 2, dotsY = height * 4
        var grid = Array(repeating: Array(repeating: false, count: dotsX), count: dotsY)
        func x(_ ts: Int64) -> Int {
            t1 == t0 ? dotsX / 2 : Int((Double(ts - t0) / Double(t1 - t0) * Double(dotsX - 1)).rounded())
        }
        func y(_ v: Double) -> Int { Int(((v - lo) / (hi - lo) * Double(dotsY - 1)).rounded()) }
        var previous: (Int, Int)?
        for p in points {
            let px = x(p.ts), py = y(p.value)
            if let (qx, qy) = previous {
                // Join neighbours so the line reads as one; fill the vertical span at each column.
                let steps = max(abs(px - qx), abs(py - qy), 1)
                for s in 0...steps {
                    let ix = qx + (px - qx) * s / steps, iy = qy + (py - qy) * s / steps
                    grid[iy][ix] = true
                }
            } else {
                grid[py][px] = true
            }
            previous = (px, py)
        }
        let labels = (0..<height).map { row -> String in
            if row == 0 { return Self.format(hi) }
            if row == height - 1 { return Self.format(lo) }
            if row == height / 2 { return Self.format(lo + (hi - lo) * Double(height - 1 - row) / Double(height - 1)) }
            return ""
        }
        let labelWidth = labels.map(\.count).max()!
        var out = title + "\n"
        // Dot bits of a braille cell, by (column, row within the cell).
        let bits: [[UInt32]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]
        for row in 0..<height {
            var line = String(repeating: " ", count: labelWidth - labels[row].count) + labels[row] + " ┤"
            for col in 0..<width {
                var code: UInt32 = 0
                for dx in 0..<2 {
                    for dy in 0..<4 {
                        let gy = dotsY - 1 - (row * 4 + dy)
                        if grid[gy][col * 2 + dx] { code |= bits[dx][dy] }
                    }
                }
                line.unicodeScalars.append(Unicode.Scalar(0x2800 + code)!)
            }
            out += line + "\n"
        }
        let pad = String(repeating: " ", count: labelWidth + 1)
        out += pad + "└" + String(repeating: "─", count: width) + "\n"
        let start = ISOTime.format(t0), end = ISOTime.format(t1)
        let gap = max(1, width + 1 - start.count - end.count)
        out += pad + start + String(repeating: " ", count: gap) + end + "\n"
        out += "min \(Self.format(minPoint.value)) at \(ISOTime.format(minPoint.ts)) · "
            + "max \(Self.format(maxPoint.value)) at \(ISOTime.format(maxPoint.ts)) · \(points.count) points\n"
        return out
    }

    static func format(_ v: Double) -> String {
        if v.rounded() == v, abs(v) < 1e12 { return String(Int64(v)) }
        return abs(v) >= 100 ? String(format: "%.0f", v) : String(format: "%.2f", v)
    }
}
