import Foundation
import Store
import ThingseeAPI

extension CommandDefinition {
    static let thing = CommandDefinition(
        name: "thing", summary: "device info: battery, location, gateway, firmware", usage: "TUID",
        positionals: [.tuid], example: "thing TSPD04LLY59881187"
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let info = try await inv.client.thing(tuid)
        let now = inv.context.now
        var rows: [[String]] = [
            ["tuid", tuid],
            ["battery", info.batteryLevel.map { "\(Self.number($0)) %" } ?? "-"],
            ["last seen", TimeText.describe(info.timestamp, now: now)],
            [
                "location",
                info.latitude.flatMap { lat in info.longitude.map { "\(Self.number(lat)), \(Self.number($0))" } }
                    ?? "-",
            ],
            ["gateway", info.gatewayTUID ?? "-"],
            ["firmware", info.version ?? "-"],
        ]
        let known: Set<String> = ["battery_level", "timestamp", "location", "gateway_tuid", "version"]
        for (key, value) in (info.raw.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) where !known.contains(key) {
            rows.append([key, value.cell])
        }
        inv.emit(Rendered(data: info.raw, table: Table(columns: ["field", "value"], rows: rows)))
    }

    static let messages = CommandDefinition(
        name: "messages", summary: "a device's messages, newest first",
        usage: "TUID [--limit N] [--id 1110,12100] [--event 10,31] [--from T] [--to T]", positionals: [.tuid],
        flags: [
            FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "at most N messages (default 20)"),
            FlagSpec(["--id"], value: "IDS", kind: .text, help: "only these message ids (tsmId), comma-separated"),
            FlagSpec(["--event"], value: "EVS", kind: .text, help: "only these event ids (tsmEv), comma-separated"),
            FlagSpec(["--from"], value: "T", kind: .time, help: "not before T"),
            FlagSpec(["--to"], value: "T", kind: .time, help: "not after T"),
        ],
        example: "messages TSPD04LLY59881187 --id 1110 --from -1h --limit 5",
        notes: [Self.timeNote]
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let query = MessageQuery(
            limit: try inv.positiveInt("--limit") ?? 20, messageIDs: try inv.intList("--id"),
            eventIDs: try inv.intList("--event"), from: try inv.time("--from"), to: try inv.time("--to"))
        let batch = try await inv.client.messagesCounted(tuid, query)
        let list = batch.messages
        if batch.skipped > 0 {
            // Said on stderr so the output stays the API's rows: outgoing command rows (no `tsmTuid`) and
            // network-down events without a time are the documented rows a client cannot show.
            inv.note(
                "tsee: \(batch.skipped) row\(batch.skipped == 1 ? "" : "s") skipped (outgoing command rows or "
                    + "events without a time)")
        }
        let now = inv.context.now
        let rows = list.map { m -> [String] in
            let values = m.properties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.cell)" }
            var extra = values
            if let tx = m.transactionId { extra.insert("transactionId=\(tx)", at: 0) }
            return [
                TimeText.describe(m.tsmTs, now: now), String(m.tsmId), String(m.tsmEv), extra.joined(separator: " "),
            ]
        }
        inv.emit(
            Rendered(
                data: .array(list.map(\.raw)), table: Table(columns: ["time", "tsmId", "tsmEv", "values"], rows: rows)))
    }

    static let alerts = CommandDefinition(
        name: "alerts", summary: "a device's alert episodes", usage: "TUID [--from T] [--to T]", positionals: [.tuid],
        flags: [
            FlagSpec(["--from"], value: "T", kind: .time, help: "not before T"),
            FlagSpec(["--to"], value: "T", kind: .time, help: "not after T"),
        ],
        example: "alerts TSGW01LYP11609456 --from -7d", notes: [Self.timeNote]
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let records = try await inv.client.alerts(tuid, from: try inv.time("--from"), to: try inv.time("--to"))
        let now = inv.context.now
        var rows: [[String]] = []
        for r in records {
            for e in r.episodes {
                let duration = TimeExpression.describe(seconds: (e.to ?? now) - e.from)
                rows.append([
                    r.alertType, TimeText.describe(e.from, now: now),
                    e.to.map { TimeText.describe($0, now: now) } ?? "ongoing",
                    duration,
                ])
            }
        }
        inv.emit(
            Rendered(
                data: .array(records.map(\.raw)),
                table: Table(columns: ["alert", "from", "to", "duration"], rows: rows)))
    }

    static let commands = CommandDefinition(
        name: "commands", summary: "the commands sent to a device, newest first, and whether its echo confirmed them",
        usage: "TUID [--limit N]", positionals: [.tuid],
        flags: [FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "the newest N commands (default: all)")],
        example: "commands TSPD04LLY59881187 --limit 10",
        notes: [
            "echo: `confirmed` when the device sent the same tsmId with tsmEv 31 and the same transactionId after the "
                + "command; for commands `tsee run` sent, the action log's state (`awaiting echo`, `no echo`) when "
                + "the echo has not been seen. Commands without a transactionId cannot be matched (`-`)."
        ]
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let history = try await inv.client.commandHistory(tuid, limit: try inv.positiveInt("--limit"))
        let now = inv.context.now
        // The action log's view of the commands `tsee run` sent to this device, by transactionId.
        var logged: [Int64: ActionRecord] = [:]
        if let store = await inv.context.openStoreIfExists() {
            for record in (try? await store.actions(filter: ActionFilter(tuid: tuid))) ?? [] {
                if let tx = record.transactionID, record.kind == .send { logged[tx] = record }
            }
        }
        // The device's echoes since the oldest command listed.
        var echoes: [String: Int64] = [:]
        let ids = Set(history.compactMap(\.tsmId))
        if let oldest = history.compactMap(\.timestamp).min(), !ids.isEmpty {
            // One page, read as it is: two echoes in the same second share a de-duplication key, and only their
            // transactionIds tell them apart.
            let messages = try await inv.client.messages(
                tuid, MessageQuery(limit: 1000, messageIDs: ids.sorted(), eventIDs: [31], from: oldest))
            for m in messages where m.tsmEv == 31 {
                if let tx = m.transactionId {
                    echoes["\(m.tsmId):\(tx)"] = min(echoes["\(m.tsmId):\(tx)"] ?? .max, m.tsmTs)
                }
            }
        }
        var rows: [[String]] = []
        var data: [JSONValue] = []
        for h in history {
            let params = (h.command.objectValue ?? [:]).filter {
                !Message.headerKeys.contains($0.key) && $0.key != "tsmDstTuid"
            }
            var echo = "-"
            var echoAt: Int64?
            if let tx = h.transactionId, let id = h.tsmId {
                if let at = echoes["\(id):\(tx)"], at >= (h.timestamp ?? .min) {
                    echo = "confirmed " + TimeText.ago(at, now: now)
                    echoAt = at
                } else {
                    switch logged[Int64(tx)]?.confirmState {
                    case .confirmed?:
                        echo = "confirmed (action log)"
                        echoAt = logged[Int64(tx)]?.confirmedAt
                    case .unconfirmed?: echo = "no echo (action log)"
                    default: echo = "no echo yet"
                    }
                }
            }
            let byTsee = h.transactionId.flatMap { logged[Int64($0)] }.map { "tsee run (\($0.rule))" }
            rows.append([
                TimeText.describe(h.timestamp, now: now), h.tsmId.map(String.init) ?? "-",
                h.transactionId.map(String.init) ?? "-",
                params.keys.sorted().map { "\($0)=\(params[$0]!.cell)" }.joined(separator: " "),
                byTsee ?? h.responsible ?? "-", echo,
            ])
            var entry = h.raw.objectValue ?? [:]
            entry["confirmed"] = h.transactionId == nil ? .null : .bool(echoAt != nil)
            entry["confirmed_at"] = echoAt.map { .string(ISOTime.format($0)) } ?? .null
            if let byTsee { entry["sent_by"] = .string(byTsee) }
            data.append(.object(entry))
        }
        inv.emit(
            Rendered(
                data: .array(data),
                table: Table(
                    columns: ["time", "tsmId", "transactionId", "parameters", "responsible", "echo"], rows: rows)))
    }

    static let install = CommandDefinition(
        name: "install", summary: "set the installation status of a device, or of many (--where, --group, -)",
        usage: "(TUID | --where EXPR [--group G] | -) STATUS [--yes] [--dry-run]", positionals: [.tuid, .status],
        flags: BulkAction.flags, example: "install --where 'battery below 5' retired --dry-run",
        notes: [
            "STATUS: " + InstallationStatus.allCases.map(\.rawValue).joined(separator: ", "),
            Self.bulkNote,
        ]
    ) { inv in
        let (target, rest) = try BulkAction.target(inv)
        guard rest.count == 1 else {
            throw CommandError.usage(
                "install: \(rest.isEmpty ? "missing STATUS" : "too many arguments"); usage: install \(inv.command.usage)"
            )
        }
        let status = try Self.status(rest[0])
        let client = inv.client
        let action = BulkAction(
            inv: inv, summary: "install \(status.rawValue)",
            request: { "POST /things/\($0)/installations {\"installation_status\":\"\(status.rawValue)\"}" },
            perform: { tuid in
                let result = try await client.setInstallationStatus(tuid, status)
                return "status \(result.installationStatus ?? status.rawValue)"
            })
        switch target {
        case .one(let tuid) where !inv.arguments.has("--dry-run"):
            let result = try await inv.client.setInstallationStatus(tuid, status)
            inv.emit(
                Rendered(
                    data: result.raw,
                    table: Table(
                        columns: ["tuid", "status", "group"],
                        rows: [
                            [result.tuid ?? tuid, result.installationStatus ?? status.rawValue, result.groupId ?? "-"]
                        ]
                    )))
        case .one(let tuid):
            try await action.run([tuid])
        case .many(let selection, let stdin):
            let (tuids, failed) = try await BulkAction.devices(selection, fromStandardInput: stdin, inv: inv)
            try await action.run(tuids, unreadable: failed)
        }
    }

    static let bulkNote =
        "In place of a TUID, --where EXPR (a rule condition, optionally within --group G) or --group G alone selects "
        + "devices, and `-` reads TUIDs from standard input. The selection is shown and confirmed on a terminal; "
        + "without one, --yes is required. Requests run concurrently; one result row per device; exit 5 when some "
        + "failed. --dry-run shows the requests and sends nothing."

    static let installations = CommandDefinition(
        name: "installations", summary: "a device's installation status history, newest first",
        usage: "TUID [--limit N]", positionals: [.tuid],
        flags: [
            FlagSpec(
                ["--limit", "-n"], value: "N", kind: .number, help: "the newest N entries (1: the current status)")
        ],
        example: "installations TSPD04LLY59881187 --limit 1"
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let list = try await inv.client.installations(tuid, limit: try inv.positiveInt("--limit"))
        let now = inv.context.now
        inv.emit(
            Rendered(
                data: .array(list.map(\.raw)),
                table: Table(
                    columns: ["time", "status"],
                    rows: list.map { [TimeText.describe($0.timestamp, now: now), $0.installationStatus ?? "-"] })))
    }

    static let timeNote = "T: Unix seconds, ISO-8601 (2026-11-20T08:00:00Z), relative (-30m, -1h, -7d) or now."

    static func status(_ text: String) throws(CommandError) -> InstallationStatus {
        guard let s = InstallationStatus(rawValue: text) else {
            let names = InstallationStatus.allCases.map(\.rawValue)
            let hint = Suggestion.closest(to: text, among: names).map { "did you mean `\($0)`? " } ?? ""
            throw .usage(
                "unknown installation status `\(text)`; \(hint)expected one of: \(names.joined(separator: ", "))")
        }
        return s
    }

    static func number(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
