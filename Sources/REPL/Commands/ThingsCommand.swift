import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let things = CommandDefinition(
        name: "things", summary: "the fleet view: one row per device (status, battery, silence, alerts, …)",
        usage: "[TUID…] [--group G …] [--where EXPR] [--columns LIST] [--sort COL] [--limit N]",
        positionals: [.tuid], variadic: true,
        flags: [
            FlagSpec(["--group", "-g"], value: "G", kind: .group, help: "the devices of group G (repeatable)"),
            FlagSpec(
                ["--where", "-w"], value: "EXPR", kind: .text,
                help: "only devices for which this rule condition holds, e.g. 'battery below 20'"),
            FlagSpec(
                ["--columns"], value: "LIST", kind: .column,
                help: "columns to show, in order (default: "
                    + FleetColumn.allCases.map(\.rawValue).joined(
                        separator: ",") + ")"),
            FlagSpec(["--sort"], value: "COL", kind: .column, help: "sort by this column (-COL: descending)"),
            FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "at most N rows"),
        ],
        example: "things --where 'battery below 20' --columns tuid,group,battery,silence --sort battery",
        notes: [
            "No TUID and no --group: every group and `unassigned`. --where takes a condition as written after `when` "
                + "in a rule file, with the same fields and meaning (battery, status, group, firmware, silence, "
                + "catalogue fields such as temp), evaluated now over the last 24 h.",
            "Only what the columns and --where need is fetched, up to 16 devices at a time; a progress bar shows on "
                + "standard error when it is a terminal. Columns: tuid model kind group status battery last_seen "
                + "silence alerts firmware gateway (alerts: how many are open).",
        ]
    ) { inv in
        try await ThingsCommand(inv).run()
    }
}

/// `things`: select, fetch what the columns need, sort, print.
struct ThingsCommand {
    let inv: Invocation

    init(_ inv: Invocation) { self.inv = inv }

    func run() async throws {
        let columns = try inv.arguments.value("--columns").map(FleetColumn.parseList) ?? FleetColumn.allCases
        var sort: (column: FleetColumn, descending: Bool)?
        if let text = inv.arguments.value("--sort") {
            let descending = text.hasPrefix("-")
            sort = (try FleetColumn.parse(descending ? String(text.dropFirst()) : text, flag: "--sort"), descending)
        }
        let limit = try inv.positiveInt("--limit")
        let selection = try FleetSelection.parse(inv, tuids: inv.positionals)
        let fetcher = FleetFetcher(client: inv.client)
        let resolved = try await selection.resolve(fetcher) { inv.progress("things", total: $0) }
        var devices = resolved.0
        var failed = resolved.failed
        if sort == nil, let limit { devices = Array(devices.prefix(limit)) }

        var wanted = Set(columns.flatMap(\.facts))
        if let sort { wanted.formUnion(sort.column.facts) }
        let bar = wanted.isEmpty ? nil : inv.progress("things", total: devices.count)
        let outcomes = try await fetcher.fetch(devices, wanted: wanted, progress: bar)
        bar?.finish()
        var rows: [DeviceFacts] = []
        for outcome in outcomes {
            if let error = outcome.error {
                failed.append((outcome.facts.tuid, error))
            } else {
                rows.append(outcome.facts)
            }
        }
        let now = inv.context.now
        if let sort {
            rows = Self.sorted(rows, by: sort.column, descending: sort.descending, now: now)
            if let limit { rows = Array(rows.prefix(limit)) }
        }
        for row in rows { inv.context.cache.note(tuid: row.tuid) }
        let data: [JSONValue] = rows.map { row in
            .object(Dictionary(uniqueKeysWithValues: columns.map { ($0.rawValue, Self.value($0, row, now: now)) }))
        }
        let table = Table(
            columns: columns.map(\.rawValue), rows: rows.map { row in columns.map { Self.cell($0, row, now: now) } })
        inv.emit(Rendered(data: .array(data), table: table, csvColumns: columns.map(\.rawValue)))
        try Self.reportFailures(failed, of: resolved.considered, inv: inv, verb: "read")
    }

    /// Notes the devices that failed (the first few) and fails with exit 5 when there were any.
    static func reportFailures(_ failed: [(String, any Error)], of total: Int, inv: Invocation, verb: String) throws {
        guard !failed.isEmpty else { return }
        for (tuid, error) in failed.prefix(5) { inv.note("tsee: \(tuid): \(CommandDefinition.message(of: error))") }
        if failed.count > 5 { inv.note("tsee: … and \(failed.count - 5) more") }
        throw CommandError.partialFailure("\(failed.count) of \(total) devices could not be \(verb)")
    }

    static func value(_ column: FleetColumn, _ d: DeviceFacts, now: Int64) -> JSONValue {
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        switch column {
        case .tuid: return .string(d.tuid)
        case .model: return .string(String(d.tuid.prefix(6)))
        case .kind: return .string(DeviceKind(tuid: d.tuid).rawValue)
        case .group: return text(d.group)
        case .status: return text(d.status)
        case .battery: return d.battery.map(JSONValue.number) ?? .null
        case .lastSeen: return text(d.lastSeen.map(ISOTime.format))
        case .silence: return d.lastSeen.map { .number(Double(now - $0)) } ?? .null
        case .alerts: return d.openAlerts(at: now).map { .number(Double($0.count)) } ?? .null
        case .firmware: return text(d.firmware)
        case .gateway: return text(d.gateway)
        }
    }

    static func cell(_ column: FleetColumn, _ d: DeviceFacts, now: Int64) -> String {
        switch column {
        case .battery: return d.battery.map { CommandDefinition.number(($0 * 10).rounded() / 10) + " %" } ?? "-"
        case .silence: return d.lastSeen.map { TimeExpression.describe(seconds: now - $0) } ?? "-"
        case .alerts:
            guard let open = d.openAlerts(at: now) else { return "-" }
            return open.isEmpty ? "0" : "\(open.count) (\(Set(open).sorted().joined(separator: ", ")))"
        default: return value(column, d, now: now).cell
        }
    }

    /// Sorted by a column; devices without a value come last either way.
    static func sorted(_ rows: [DeviceFacts], by column: FleetColumn, descending: Bool, now: Int64) -> [DeviceFacts] {
        let keyed = rows.map { ($0, value(column, $0, now: now)) }
        return keyed.sorted { a, b in
            switch (a.1, b.1) {
            case (.null, .null): return a.0.tuid < b.0.tuid
            case (.null, _): return false
            case (_, .null): return true
            case (.number(let x), .number(let y)) where x != y: return descending ? x > y : x < y
            case (.string(let x), .string(let y)) where x != y: return descending ? x > y : x < y
            default: return a.0.tuid < b.0.tuid
            }
        }.map(\.0)
    }
}

extension CommandDefinition {
    /// An error as one line for a per-device report.
    static func message(of error: any Error) -> String {
        switch error {
        case let e as CommandError: e.description
        case let e as ThingseeError: e.description
        default: "\(error)"
        }
    }
}

extension Invocation {
    /// A progress bar on standard error, or `nil` when standard error is not a terminal.
    func progress(_ label: String, total: Int) -> ProgressBar? {
        guard console.errorIsTerminal, total > 0 else { return nil }
        let console = self.console
        return ProgressBar(label: label, total: total, width: console.width, write: { console.err($0) })
    }
}
