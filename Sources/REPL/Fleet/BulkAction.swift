import Foundation
import ThingseeAPI

/// A change applied to many devices: the selection shown and confirmed, then one request per device, concurrently,
/// and one result row per device. Exit 5 when some failed; `--dry-run` shows what would be sent and sends nothing.
struct BulkAction {
    let inv: Invocation
    /// What is done, for the question and the table: `install quarantine`.
    let summary: String
    /// The request a device would get, for `--dry-run`: `POST /things/X/installations {…}`.
    let request: @Sendable (String) -> String
    /// Carries out the change for one device and says what came of it.
    let perform: @Sendable (String) async throws -> String

    /// The flags of a bulk-capable command.
    static let flags: [FlagSpec] = [
        FlagSpec(
            ["--where", "-w"], value: "EXPR", kind: .text,
            help: "in place of a TUID: the devices for which this rule condition holds"),
        FlagSpec(["--group", "-g"], value: "G", kind: .group, help: "in place of a TUID: the devices of group G"),
        FlagSpec(["--dry-run"], help: "show what would be sent, send nothing"),
    ]

    /// How the devices are named: one TUID, `-` (standard input), or `--where`/`--group`.
    enum Target {
        case one(String)
        case many(FleetSelection, fromStandardInput: Bool)
    }

    /// Reads the target from the invocation; `rest` are the positionals after it.
    static func target(_ inv: Invocation) throws -> (Target, rest: [String]) {
        let bulk = inv.arguments.has("--where") || inv.arguments.has("--group")
        if bulk {
            return (.many(try FleetSelection.parse(inv, tuids: []), fromStandardInput: false), inv.positionals)
        }
        guard let first = inv.positionals.first else {
            throw CommandError.usage("\(inv.name): missing arguments; usage: \(inv.name) \(inv.command.usage)")
        }
        if first == "-" {
            return (.many(FleetSelection(), fromStandardInput: true), Array(inv.positionals.dropFirst()))
        }
        return (.one(try inv.tuid(at: 0)), Array(inv.positionals.dropFirst()))
    }

    /// The devices of a `many` target.
    static func devices(_ selection: FleetSelection, fromStandardInput: Bool, inv: Invocation) async throws -> (
        [String], failed: [(String, any Error)]
    ) {
        if fromStandardInput {
            var seen = Set<String>()
            return (try await FleetSelection.standardInputTUIDs().filter { seen.insert($0).inserted }, [])
        }
        let (devices, failed, _) = try await selection.resolve(FleetFetcher(client: inv.client)) {
            inv.progress("selecting", total: $0)
        }
        return (devices.map(\.tuid), failed)
    }

    func run(_ tuids: [String], unreadable: [(String, any Error)] = []) async throws {
        for (tuid, error) in unreadable.prefix(5) {
            inv.note("tsee: \(tuid) left out: \(CommandDefinition.message(of: error))")
        }
        if unreadable.count > 5 { inv.note("tsee: … and \(unreadable.count - 5) more left out") }
        guard !tuids.isEmpty else {
            inv.note("no device selected; nothing sent")
            inv.emit(Rendered(data: .array([]), table: Table(columns: ["tuid", "result"])))
            try ThingsCommand.reportFailures(unreadable, of: unreadable.count, inv: inv, verb: "evaluated")
            return
        }
        let shown = tuids.prefix(5).joined(separator: ", ")
        let more = tuids.count > 5 ? ", … (\(tuids.count - 5) more)" : ""
        let count = "\(tuids.count) device\(tuids.count == 1 ? "" : "s")"
        inv.note("\(count) selected: \(shown)\(more)")
        if inv.arguments.has("--dry-run") {
            let rows = tuids.map { [$0, "would send", request($0)] }
            let data: [JSONValue] = tuids.map {
                ["tuid": .string($0), "result": "would send", "request": .string(request($0))]
            }
            inv.emit(Rendered(data: .array(data), table: Table(columns: ["tuid", "result", "request"], rows: rows)))
            inv.note("dry run: nothing sent")
            return
        }
        if !inv.assumeYes {
            let question = "\(summary) on \(count)?"
            guard let confirmer = inv.context.confirmer, let answer = await confirmer.confirm(question) else {
                throw CommandError.usage(
                    "\(question) Nothing sent: there is no terminal to confirm on; pass --yes to go ahead "
                        + "(or --dry-run to see the requests)")
            }
            guard answer else {
                inv.note("nothing sent")
                return
            }
        }
        let perform = self.perform
        let bar = inv.progress(inv.name, total: tuids.count)
        let results = await concurrentMap(tuids, limit: 16) { tuid -> (String, Result<String, any Error>) in
            defer { bar?.advance() }
            do { return (tuid, .success(try await perform(tuid))) } catch { return (tuid, .failure(error)) }
        }
        bar?.finish()
        try Task.checkCancellation()
        var rows: [[String]] = []
        var data: [JSONValue] = []
        var failed: [(String, any Error)] = []
        for (tuid, result) in results {
            switch result {
            case .success(let detail):
                rows.append([tuid, "ok", detail])
                data.append(["tuid": .string(tuid), "result": "ok", "detail": .string(detail)])
            case .failure(let error):
                failed.append((tuid, error))
                let message = CommandDefinition.message(of: error)
                rows.append([tuid, "failed", message])
                data.append(["tuid": .string(tuid), "result": "failed", "error": .string(message)])
            }
        }
        inv.emit(Rendered(data: .array(data), table: Table(columns: ["tuid", "result", "detail"], rows: rows)))
        let all = failed.count + unreadable.count
        if all > 0 {
            throw CommandError.partialFailure(
                "\(summary): \(failed.count) of \(tuids.count) devices failed"
                    + (unreadable.isEmpty ? "" : "; \(unreadable.count) could not be evaluated"))
        }
    }
}
