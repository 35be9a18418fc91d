import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let send = CommandDefinition(
        name: "send", summary: "send a configuration command (tsmEv 30); --wait blocks until the device echoes it",
        usage: "TUID TSMID [key=value …] [--tx N] [--wait [DUR]] [--unchecked] [--dry-run]"
            + " | (--where EXPR [--group G] | -) TSMID [key=value …] [--unchecked] [--yes] [--dry-run]",
        positionals: [.tuid, .commandID, .commandParameter],
        variadic: true,
        flags: BulkAction.flags + [
            FlagSpec(
                ["--unchecked"],
                help: "send a command id or parameters outside the seed's catalogue (e.g. 12211, 16200, 17220)"),
            FlagSpec(["--tx"], value: "N", kind: .number, help: "the transactionId, 0…2147483647 (default: random)"),
            FlagSpec(
                ["--wait"], value: "DUR", optional: true, kind: .duration,
                help: "wait for the device's tsmEv 31 echo, at most DUR (default 5m); exit 6 when it does not come"),
        ],
        example: "send TSPD04LLY59881187 1500 measurementInterval=60 reportInterval=300 --wait 2m",
        notes: [
            "TSMID and its parameters: "
                + CommandCatalog.ids.map { "\($0) (\(CommandCatalog.parameters[$0]!.joined(separator: ", ")))" }
                .joined(separator: "; ") + ".",
            "With no parameters (`send TUID 1500`) the command is only its header: the device echoes its current "
                + "configuration. Other ids (12211 hall mode, 16200 accelerometer on pod4 firmware, 17220 "
                + "people-counter orientation) need --unchecked, which checks only that values are numbers.",
            Self.bulkNote + " --tx and --wait apply to one device.",
            "The API's 200 only means accepted; the device later echoes the same tsmId with tsmEv 31, the same "
                + "transactionId and all its current values (out-of-range values come back clamped).",
        ]
    ) { inv in
        try await SendCommand(inv).run()
    }
}

/// `send`: validation, the POST, and with `--wait` the search for the echo.
struct SendCommand {
    let inv: Invocation

    init(_ inv: Invocation) { self.inv = inv }

    func run() async throws {
        let (target, rest) = try BulkAction.target(inv)
        guard !rest.isEmpty else {
            throw CommandError.usage("send: missing TSMID; usage: send \(inv.command.usage)")
        }
        let (tsmId, parameters) = try Self.validate(rest, unchecked: inv.arguments.has("--unchecked"))
        let tuid: String
        switch target {
        case .one(let one) where !inv.arguments.has("--dry-run"):
            tuid = one
        case .one, .many:
            if inv.arguments.has("--tx") || inv.arguments.has("--wait") {
                throw CommandError.usage("send: --tx and --wait apply to one device, not to a selection or --dry-run")
            }
            let client = inv.client
            let action = BulkAction(
                inv: inv, summary: "send \(tsmId)",
                request: { tuid in
                    let values = parameters.map { "\"\($0.name)\":\(CommandDefinition.number($0.value))" }
                    let body = (["\"tsmId\":\(tsmId)", "\"tsmEv\":30", "\"transactionId\":(new)"] + values)
                    return "POST /things/\(tuid)/commands [{\(body.joined(separator: ","))}]"
                },
                perform: { tuid in
                    let tx = Command.randomTransactionID()
                    _ = try await client.sendCommands(
                        tuid, [Command(tsmId: tsmId, transactionId: tx, parameters: parameters)])
                    return "transactionId \(tx) accepted (the echo confirms it; see `commands TUID`)"
                })
            if case .one(let one) = target {
                try await action.run([one])
            } else if case .many(let selection, let stdin) = target {
                let (tuids, failed) = try await BulkAction.devices(selection, fromStandardInput: stdin, inv: inv)
                try await action.run(tuids, unreadable: failed)
            }
            return
        }
        var transactionID = Command.randomTransactionID()
        if let text = inv.arguments.value("--tx") {
            guard let n = Int(text), (0...2_147_483_647).contains(n) else {
                throw CommandError.usage("--tx must be an integer in 0…2147483647, not `\(text)`")
            }
            transactionID = n
        }
        var wait: Int64?
        if let text = inv.arguments.value("--wait") {
            guard let d = text.isEmpty ? 300 : TimeExpression.duration(text), d > 0 else {
                throw CommandError.usage("--wait takes a duration such as 90s, 5m or 1h, not `\(text)`")
            }
            wait = d
        }
        let command = Command(tsmId: tsmId, transactionId: transactionID, parameters: parameters)
        let receipt = try await inv.client.sendCommands(tuid, [command])
        let sentAt = inv.context.now
        let started = ContinuousClock.now
        guard let wait else {
            let summary =
                "accepted: \(tsmId) for \(tuid), transactionId \(transactionID)"
                + " (not yet confirmed; add --wait to wait for the device's echo)"
            inv.emit(Rendered(data: receipt.raw, text: summary))
            return
        }
        if inv.output == .table {
            inv.note(
                "accepted: \(tsmId) for \(tuid), transactionId \(transactionID); waiting up to "
                    + "\(TimeExpression.describe(seconds: wait)) for the echo…")
        }
        guard
            let echo = try await waitForEcho(
                tuid: tuid, tsmId: tsmId, transactionID: transactionID,
                since: sentAt - 120, deadline: started + .seconds(wait))
        else {
            throw CommandError.unconfirmed(
                "\(tsmId) to \(tuid) was accepted (transactionId \(transactionID)) but the device did not echo it within "
                    + "\(TimeExpression.describe(seconds: wait)); check later with "
                    + "`messages \(tuid) --id \(tsmId) --event 31`")
        }
        let latency = ContinuousClock.now - started
        let latencySeconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        var rows: [[String]] = []
        var differences: [JSONValue] = []
        for p in parameters {
            let got = echo.property(p.name)?.doubleValue
            let state: String
            switch got {
            case nil:
                state = "not echoed"
            case let v? where v == p.value:
                state = "confirmed"
            case let v?:
                state = "changed by the device to \(CommandDefinition.number(v))"
            }
            if state != "confirmed" {
                differences.append([
                    "name": .string(p.name), "sent": .number(p.value), "echoed": got.map(JSONValue.number) ?? .null,
                ])
            }
            rows.append([p.name, CommandDefinition.number(p.value), got.map(CommandDefinition.number) ?? "-", state])
        }
        let sentNames = Set(parameters.map(\.name))
        for (key, value) in echo.properties.sorted(by: { $0.key < $1.key }) where !sentNames.contains(key) {
            rows.append([key, "", value.cell, "current value"])
        }
        let header =
            "confirmed by the device in \(String(format: "%.1f", latencySeconds)) s "
            + "(echo at \(ISOTime.format(echo.tsmTs)), transactionId \(transactionID))"
        let table = Table(columns: ["parameter", "sent", "echoed", ""], rows: rows)
        let data: JSONValue = [
            "tuid": .string(tuid), "tsmId": .number(Double(tsmId)), "transactionId": .number(Double(transactionID)),
            "accepted": receipt.raw, "echo": echo.raw, "latencySeconds": .number((latencySeconds * 10).rounded() / 10),
            "differences": .array(differences),
        ]
        inv.emit(Rendered(data: data, text: header + "\n" + table.render(colour: inv.console.colour)))
    }

    /// Polls the device's `tsmEv` 31 messages of this `tsmId` until one carries the transaction id.
    func waitForEcho(
        tuid: String, tsmId: Int, transactionID: Int, since: Int64, deadline: ContinuousClock.Instant
    ) async throws -> Message? {
        var interval = Duration.milliseconds(500)
        while true {
            let page = try await inv.client.messages(
                tuid, MessageQuery(limit: 100, messageIDs: [tsmId], eventIDs: [31], from: since))
            if let echo = page.first(where: { $0.tsmEv == 31 && $0.transactionId == transactionID }) { return echo }
            let left = deadline - .now
            if left <= .zero { return nil }
            try await Task.sleep(for: min(interval, left))
            interval = min(interval * 2, .seconds(5))
        }
    }

    /// Checks the command id and the `key=value` parameters against the catalogue (with `unchecked`, only that
    /// the id is a number and the values are numbers). No parameters: a header-only command.
    static func validate(_ words: [String], unchecked: Bool = false) throws(CommandError) -> (
        Int, [(name: String, value: Double)]
    ) {
        let ids = CommandCatalog.ids.map(String.init).joined(separator: ", ")
        guard let tsmId = Int(words[0]), tsmId >= 0 else {
            throw .usage("send: TSMID `\(words[0])` is not a number; use one of \(ids) (others with --unchecked)")
        }
        guard let names = unchecked ? [] : CommandCatalog.parameters[tsmId] else {
            throw .usage(
                "send: TSMID `\(words[0])` is not one of the configuration commands tsee checks (\(ids)); "
                    + "add --unchecked to send it as it is")
        }
        var parameters: [(name: String, value: Double)] = []
        for word in words.dropFirst() {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw .usage(
                    "send: expected key=value, not `\(word)`"
                        + (names.isEmpty ? "" : " (\(tsmId) takes \(names.joined(separator: ", ")))"))
            }
            let name = String(parts[0])
            guard unchecked || names.contains(name) else {
                let hint = Suggestion.closest(to: name, among: names).map { "did you mean `\($0)`? " } ?? ""
                throw .usage(
                    "send: \(tsmId) has no parameter `\(name)`; \(hint)it takes \(names.joined(separator: ", "))")
            }
            guard let value = Double(parts[1]), value.isFinite else {
                throw .usage("send: \(name) must be a number, not `\(parts[1])`")
            }
            guard !parameters.contains(where: { $0.name == name }) else { throw .usage("send: \(name) is given twice") }
            parameters.append((name, value))
        }
        return (tsmId, parameters)
    }
}
