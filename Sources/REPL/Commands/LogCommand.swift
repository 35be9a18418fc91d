import Foundation
import Store
import ThingseeAPI

extension CommandDefinition {
    static let log = CommandDefinition(
        name: "log", summary: "the scheduler's action log (newest first)",
        usage: "[--rule R] [--tuid T] [--since T] [--limit N] [--dry-run|--live] [--unconfirmed]",
        flags: [
            FlagSpec(["--rule"], value: "R", kind: .ruleName, help: "only actions of rule R"),
            FlagSpec(["--tuid"], value: "T", kind: .tuid, help: "only actions on device T"),
            FlagSpec(["--since"], value: "T", kind: .time, help: "only actions at or after T"),
            FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "at most N actions (default 50)"),
            FlagSpec(["--dry-run"], help: "only would-be actions (dry runs and shadow rules)"),
            FlagSpec(["--live"], help: "only actions carried out (or attempted)"),
            FlagSpec(["--unconfirmed"], help: "only sent commands whose echo has not arrived"),
        ],
        example: "log --rule low-battery --since -1d",
        notes: ["Reads the database given by --db (default $XDG_STATE_HOME/tsee/tsee.db). JSON keys are snake_case."]
    ) { inv in
        try inv.expectPositionals(0, 0)
        if inv.arguments.has("--dry-run") && inv.arguments.has("--live") {
            throw CommandError.usage("log: give --dry-run or --live, not both")
        }
        let path = inv.context.databasePath
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError.failed(
                "no action log at \(path): `tsee run` has not run with this --db yet", .usage)
        }
        let store = try Store(path: path)
        let filter = ActionFilter(
            rule: inv.arguments.value("--rule"), tuid: inv.arguments.value("--tuid"), since: try inv.time("--since"),
            limit: try inv.positiveInt("--limit") ?? 50,
            dryRun: inv.arguments.has("--dry-run") ? true : inv.arguments.has("--live") ? false : nil,
            unconfirmedOnly: inv.arguments.has("--unconfirmed"))
        let records = try await store.actions(filter: filter)
        let data = try JSONValue.parse(JSONEncoder().encode(records))
        let now = inv.context.now
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
            return [
                TimeText.describe(r.time, now: now), r.rule, r.tuid, "\(r.kind.rawValue) \(detail)", outcome,
                r.dryRun ? "yes" : "", confirmation,
            ]
        }
        inv.emit(
            Rendered(
                data: data,
                table: Table(columns: ["time", "rule", "tuid", "action", "outcome", "dry run", "echo"], rows: rows)))
    }
}
