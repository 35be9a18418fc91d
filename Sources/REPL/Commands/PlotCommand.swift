import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let plot = CommandDefinition(
        name: "plot", summary: "chart one numeric message field of a device over time",
        usage: "TUID FIELD [--from T] [--to T]", positionals: [.tuid, .field],
        flags: [
            FlagSpec(["--from"], value: "T", kind: .time, help: "start (default -24h)"),
            FlagSpec(["--to"], value: "T", kind: .time, help: "end (default now)"),
        ],
        example: "plot TSPD04LLY59881187 batl --from -7d",
        notes: [
            "FIELD is any numeric message property: batl, temp, humd, airp, lght, carbonDioxide, tvoc, dist, …",
            "With -o json (or when stdout is not a terminal) it prints the series: [{\"ts\": …, \"value\": …}].",
            timeNote,
        ]
    ) { inv in
        try inv.expectPositionals(2, 2)
        let tuid = try inv.tuid(at: 0)
        let field = inv.positionals[1]
        let now = inv.context.now
        let from = try inv.time("--from") ?? now - 86400
        let to = try inv.time("--to")
        guard from < (to ?? Int64.max) else { throw CommandError.usage("plot: --from must be before --to") }
        let ids = PlotFields.messageIDs[field].map { [$0] } ?? []
        let messages = try await inv.client.allMessages(tuid, from: from, to: to, messageIDs: ids)
        let points = messages.compactMap { m in
            m.property(field)?.doubleValue.map { SeriesPoint(ts: m.tsmTs, value: $0) }
        }
        let series = JSONValue.array(points.map { ["ts": .number(Double($0.ts)), "value": .number($0.value)] })
        if points.isEmpty {
            inv.note(
                "no values of `\(field)` for \(tuid) between \(ISOTime.format(from)) and \(ISOTime.format(to ?? now))")
        }
        let unit = PlotFields.units[field].map { " (\($0))" } ?? ""
        let chart = Chart(
            title: "\(tuid) \(field)\(unit)", points: points, width: max(20, min(inv.console.width - 14, 100)),
            height: 12)
        inv.emit(Rendered(data: series, text: points.isEmpty ? "" : chart.render(from: from, to: to ?? now)))
    }
}

/// Which message carries a field, so that `plot` fetches only those messages.
enum PlotFields {
    static let messageIDs: [String: Int] = [
        "batl": 1110, "chrg": 1110, "temp": 12100, "humd": 12100, "airp": 12100, "lght": 12100, "hall": 12101,
        "hallCount": 12101, "moveCount": 13100, "in": 13103, "out": 13103, "totalIn": 13103, "totalOut": 13103,
        "state": 2100, "dist": 17100, "carbonDioxide": 24100, "tvoc": 24101,
    ]
    static let units: [String: String] = [
        "batl": "%", "temp": "°C", "humd": "%RH", "airp": "Pa", "lght": "lux", "dist": "mm", "carbonDioxide": "ppm",
        "tvoc": "ppb",
    ]
}
