import Foundation
import ThingseeAPI

/// The devices a fleet command acts on: TUIDs (or `-`: TUIDs read from standard input), `--group G` (repeatable),
/// narrowed by `--where EXPR`; with none of them, every group and `unassigned`.
struct FleetSelection: Sendable {
    var tuids: [String] = []
    var groups: [String] = []
    var condition: WhereExpression?

    /// The facts `--where` needs fetched.
    var whereFacts: Set<FleetFact> {
        guard let condition else { return [] }
        var facts = Set<FleetFact>()
        if !condition.needs.messageFields.isEmpty {
            if let ids = condition.messageIDs {
                for id in ids { facts.insert(.messages(id)) }
            } else {
                facts.insert(.messages(nil))
            }
        }
        if condition.needs.usesFirmware || condition.readsSilence { facts.insert(.thing) }
        if condition.needs.usesThingInfo { facts.insert(.batteryFallback) }
        if condition.needs.readsStatus { facts.insert(.status) }
        if condition.needs.usesAlerts { facts.insert(.alerts) }
        if condition.needs.usesGroup { facts.insert(.group) }
        return facts
    }

    /// Reads `--group` and `--where` of an invocation; TUIDs are given by the caller.
    static func parse(_ inv: Invocation, tuids: [String]) throws -> FleetSelection {
        var selection = FleetSelection()
        for (index, text) in tuids.enumerated() {
            guard TUID.isValid(text) else {
                throw CommandError.usage(
                    "`\(text)` is not a TUID (argument \(index + 1)): expected 17 upper-case letters or digits, "
                        + "e.g. TSPD04LLY59881187")
            }
            selection.tuids.append(text)
        }
        selection.groups = inv.arguments.flags["--group"] ?? []
        if let text = inv.arguments.value("--where") {
            let condition = try WhereExpression.compile(text)
            for warning in condition.warnings { inv.note(warning) }
            selection.condition = condition
        }
        return selection
    }

    /// TUIDs read from standard input (one or more per line, `#` comments allowed).
    static func standardInputTUIDs() async throws -> [String] {
        if isatty(0) == 1 {
            throw CommandError.usage("`-` reads TUIDs from standard input, which is a terminal here: pipe them in")
        }
        let text: String = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var all = ""
                while let line = Swift.readLine(strippingNewline: false) { all += line }
                continuation.resume(returning: all)
            }
        }
        var tuids: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for word in content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" }) {
                guard TUID.isValid(String(word)) else {
                    throw CommandError.usage("stdin:\(number + 1): `\(word)` is not a TUID")
                }
                tuids.append(String(word))
            }
        }
        return tuids
    }

    /// The selected devices: TUIDs and group members (every group when neither is given), then those for which
    /// `--where` holds. Devices whose facts could not be read are returned apart.
    func resolve(_ fetcher: FleetFetcher, progress: (Int) -> ProgressBar?) async throws -> (
        [DeviceFacts], failed: [(String, any Error)], considered: Int
    ) {
        var devices = tuids.map { DeviceFacts(tuid: $0) }
        if !groups.isEmpty || tuids.isEmpty {
            let members = try await fetcher.devices(inGroups: groups)
            let given = Set(tuids)
            devices += members.filter { !given.contains($0.tuid) }
        }
        guard let condition else { return (devices, [], devices.count) }
        let bar = progress(devices.count)
        let outcomes = try await fetcher.fetch(
            devices, wanted: whereFacts, fields: Set(condition.needs.messageFields), progress: bar)
        bar?.finish()
        let now = fetcher.client.serverNow()
        var matching: [DeviceFacts] = []
        var failed: [(String, any Error)] = []
        for outcome in outcomes {
            if let error = outcome.error {
                failed.append((outcome.facts.tuid, error))
            } else if condition.matches(outcome.facts, now: now) {
                matching.append(outcome.facts)
            }
        }
        return (matching, failed, devices.count)
    }
}
