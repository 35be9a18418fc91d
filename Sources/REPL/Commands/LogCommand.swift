import Foundation
import Store
import ThingseeAPI

extension CommandDefinition {
    static let log = CommandDefinition(
        name: "log", summary: "the scheduler's action log (newest first)",
        usage:
            "[--rule R] [--tuid T] [--since T] [--limit N] [--dry-run|--live] [--unconfirmed] [--why] | --cycles [--limit N]",
        flags: [
            FlagSpec(["--rule"], value: "R", kind: .ruleName, help: "only actions of rule R"),
            FlagSpec(["--tuid"], value: "T", kind: .tuid, help: "only actions on device T"),
            FlagSpec(["--since"], value: "T", kind: .time, help: "only actions at or after T"),
            FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "at most N actions (default 50)"),
            FlagSpec(["--dry-run"], help: "only would-be actions (dry runs and shadow rules)"),
            FlagSpec(["--live"], help: "only actions carried out (or attempted)"),
            FlagSpec(["--unconfirmed"], help: "only sent commands whose echo has not arrived"),
            FlagSpec(["--why"], help: "add why each rule fired: its sub-conditions' values at firing time"),
            FlagSpec(["--cycles"], help: "the scheduler's cycles instead of its actions (newest first)"),
        ],
        example: "log --rule low-battery --since -1d",
        notes: [
            "Reads the database given by --db (default $XDG_STATE_HOME/tsee/tsee.db): a SQLite file, or "
                + "postgres://USER@HOST:PORT/DB. JSON keys are snake_case."
        ]
    ) { inv in
        try inv.expectPositionals(0, 0)
        if inv.arguments.has("--dry-run") && inv.arguments.has("--live") {
            throw CommandError.usage("log: give --dry-run or --live, not both")
        }
        let store = try await inv.context.openStoreForReading("log")
        if inv.arguments.has("--cycles") {
            for flag in ["--rule", "--tuid", "--since", "--dry-run", "--live", "--unconfirmed", "--why"]
            where inv.arguments.has(flag) {
                throw CommandError.usage("log --cycles takes only --limit, not \(flag)")
            }
            try await cycles(inv, store)
            return
        }
        let filter = ActionFilter(
            rule: inv.arguments.value("--rule"), tuid: inv.arguments.value("--tuid"), since: try inv.time("--since"),
            limit: try inv.positiveInt("--limit") ?? 50,
            dryRun: inv.arguments.has("--dry-run") ? true : inv.arguments.has("--live") ? false : nil,
            unconfirmedOnly: inv.arguments.has("--unconfirmed"))
        let records = try await store.actions(filter: filter)
        let data = try JSONValue.parse(JSONEncoder().encode(records))
        let now = inv.context.now
        let why = inv.arguments.has("--why")
        let rows = records.map { r -> [String] in
            let parameters = (try? JSONValue.parse(Data(r.parameters.utf8)))?.objectValue ?? [:]
            let detail = parameters.keys.sorted().map { "\($0)=\(parameters[$0]!.cell)" }.joined(separator: " ")
            var outcome = r.outcome.rawValue
            if let status = r.httpStatus, r.outcome == .failed { outcome += " \(status)" }
            if let error = r.error { outcome += " (\(error))" }
            let confirmation: String =
                switch r.confirmState {
                case .confirmed?: "confirmed " + (r.confirmedAt.map { TimeText.ago($0, now: now) } ?? "")
                case .pending?: "awaiting echo"
                case .unconfirmed?: "no echo"
                case nil: ""
                }
            var row = [
                TimeText.describe(r.time, now: now), r.rule, r.tuid, "\(r.kind.rawValue) \(detail)", outcome,
                r.dryRun ? "yes" : "", confirmation,
            ]
            if why { row.append(Self.whyText(r.why)) }
            return row
        }
        inv.emit(
            Rendered(
                data: data,
                table: Table(
                    columns: ["time", "rule", "tuid", "action", "outcome", "dry run", "echo"] + (why ? ["why"] : []),
                    rows: rows)))
    }

    /// The `why` JSON of an action (sub-condition → value at firing time) as `name=value` pairs.
    static func whyText(_ json: String?) -> String {
        guard let json, let value = try? JSONValue.parse(Data(json.utf8)) else { return "" }
        if let object = value.objectValue {
            return object.keys.sorted().map { "\($0)=\(object[$0]!.cell)" }.joined(separator: " ")
        }
        return value.cell
    }

    /// `log --cycles`: one row per scheduler cycle.
    static func cycles(_ inv: Invocation, _ store: any Store) async throws {
        let records = try await store.cycles(limit: try inv.positiveInt("--limit") ?? 50)
        let now = inv.context.now
        var rows: [[String]] = []
        var data: [JSONValue] = []
        for c in records {
            let s = c.summary
            func n(_ value: Int?) -> String { value.map(String.init) ?? "-" }
            rows.append([
                String(c.id), TimeText.describe(c.startedAt, now: now),
                s.map { String(format: "%.1f s", Double($0.durationMilliseconds) / 1000) } ?? "unfinished",
                n(s?.devices), n(s?.messages), n(s?.firings), n(s?.actions), n(s?.errors), c.dryRun ? "yes" : "",
            ])
            func number(_ value: Int?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }
            data.append([
                "id": .number(Double(c.id)), "started_at": .number(Double(c.startedAt)),
                "finished_at": s.map { .number(Double($0.finishedAt)) } ?? .null,
                "duration_ms": s.map { .number(Double($0.durationMilliseconds)) } ?? .null,
                "devices": number(s?.devices), "messages": number(s?.messages), "firings": number(s?.firings),
                "actions": number(s?.actions), "errors": number(s?.errors), "dry_run": .bool(c.dryRun),
            ])
        }
        inv.emit(
            Rendered(
                data: .array(data),
                table: Table(
                    columns: [
                        "cycle", "started", "took", "devices", "messages", "firings", "actions", "errors", "dry run",
                    ],
                    rows: rows)))
    }
}
