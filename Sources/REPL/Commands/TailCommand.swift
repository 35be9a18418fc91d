import Foundation
import Profiles
import Stream
import ThingseeAPI

extension CommandDefinition {
    static let tail = CommandDefinition(
        name: "tail", summary: "live messages: from the data integration stream when configured, else polling",
        usage: "[TUID… | --group G] [--id LIST] [-n SECONDS] [--mqtt URL [--mqtt-cert F --mqtt-key F] [--mqtt-ca F]]",
        positionals: [.tuid], variadic: true,
        flags: [
            FlagSpec(["--group", "-g"], value: "G", kind: .group, help: "the devices of group G (repeatable)"),
            FlagSpec(["--id"], value: "IDS", kind: .text, help: "only these message ids (tsmId), comma-separated"),
            FlagSpec(
                ["-n", "--interval"], value: "SECONDS", kind: .number,
                help: "without a stream: seconds between polls (default 5)"),
            FlagSpec(
                ["--mqtt"], value: "URL", kind: .text,
                help: "the stream (default: the profile's mqtt): mqtts://HOST:8883, or mqtt:// to loopback"),
            FlagSpec(["--mqtt-cert"], value: "FILE", kind: .path, help: "the client certificate (PEM) for mqtts://"),
            FlagSpec(["--mqtt-key"], value: "FILE", kind: .path, help: "the client certificate's key (PEM)"),
            FlagSpec(["--mqtt-ca"], value: "FILE", kind: .path, help: "the CA (PEM) of the broker's certificate"),
        ],
        example: "tail --group prfi00coldchain --id 12100",
        notes: [
            "Prints each message as it arrives, oldest first, until Ctrl-C (which returns to the prompt, or ends a "
                + "script or single command with status 0). No TUID and no --group: every device.",
            "With a stream (--mqtt, or the profile's mqtt, mqtt_cert, mqtt_key, mqtt_ca) the messages come from the "
                + "data integration as they happen, duplicates dropped; the subscription is narrowed to the TUIDs' or "
                + "groups' topics. Without one, each device is polled every -n seconds for messages since the last "
                + "poll; a message arriving late (within 10 minutes) is still shown, once.",
            "Output: a line per message on a terminal (time, TUID, tsmId, tsmEv, values); otherwise one JSON object "
                + "per line, the message as the API or the stream sent it.",
        ]
    ) { inv in
        try await Tail(inv).run()
    }
}

/// `tail`: live messages, from the stream or by polling, until interrupted.
struct Tail {
    let inv: Invocation
    /// A poll reads this far back before the newest message seen, so that late messages are shown too.
    static let overlap: Int64 = 600

    init(_ inv: Invocation) { self.inv = inv }

    func run() async throws {
        let selection = try FleetSelection.parse(inv, tuids: inv.positionals)
        guard selection.condition == nil else { throw CommandError.usage("tail: --where is not supported; use --group") }
        let ids = Set(try inv.intList("--id"))
        var interval: Double = 5
        if let text = inv.arguments.value("-n") {
            guard let value = Double(text), value > 0, value.isFinite else {
                throw CommandError.usage("tail: -n must be a positive number of seconds, not `\(text)`")
            }
            interval = value
        }
        let stream = try streamConfiguration(selection)
        let body: @Sendable () async throws -> Void = { [self, interval] in
            if let stream {
                try await follow(stream, ids: ids)
            } else {
                try await poll(selection, ids: ids, every: interval)
            }
        }
        if inv.context.isInteractive {
            // The shell owns SIGINT: Ctrl-C cancels this task and the prompt comes back.
            try await body()
            return
        }
        // A script or a single command: SIGINT or SIGTERM ends the tail, with status 0.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask { await Signals.wait(for: [SIGINT, SIGTERM]) }
            try await group.next()
            group.cancelAll()
        }
    }

    /// The stream's settings from the flags, else the profile; nil when neither names one.
    private func streamConfiguration(_ selection: FleetSelection) throws -> StreamConfiguration? {
        let profile = inv.context.profileName.flatMap { inv.context.configuration?.profiles[$0] }
        let flags = ["--mqtt-cert", "--mqtt-key", "--mqtt-ca"]
        guard let url = inv.arguments.value("--mqtt") ?? profile?.mqtt else {
            if let given = flags.first(where: inv.arguments.has) {
                throw CommandError.usage("tail: \(given) needs --mqtt URL")
            }
            return nil
        }
        let expand = { (path: String?) in path.map { Profile.expand($0) } }
        var topics = selection.tuids.map { "cloudext/json/+/+/+/\($0)/#" }
        topics += selection.groups.map { "cloudext/json/+/+/\($0)/#" }
        do {
            // A client id of its own per tail, on an MQTT 5 session that the broker forgets a minute after the
            // tail ends: a tail is a look, not a consumer that must not miss anything.
            var configuration = try StreamConfiguration(
                url: url, clientID: "tsee-tail-\(UUID().uuidString.prefix(12).lowercased())",
                topics: topics.isEmpty ? StreamConfiguration.defaultTopics : topics,
                certificateFile: expand(inv.arguments.value("--mqtt-cert") ?? profile?.mqttCert),
                keyFile: expand(inv.arguments.value("--mqtt-key") ?? profile?.mqttKey),
                caFile: expand(inv.arguments.value("--mqtt-ca") ?? profile?.mqttCA), protocolVersion: .v5)
            configuration.sessionExpiry = .seconds(60)
            return configuration
        } catch let error as StreamError {
            throw CommandError.usage("tail: --mqtt: \(error.message)")
        }
    }

    private func follow(_ configuration: StreamConfiguration, ids: Set<Int>) async throws {
        let subscriber = StreamSubscriber(configuration: configuration)
        let events = try await subscriber.start()
        inv.note(
            "tail: following \(configuration.topics.joined(separator: " ")) on "
                + "\(configuration.broker.usesTLS ? "mqtts" : "mqtt")://\(configuration.broker.host):"
                + "\(configuration.broker.port); Ctrl-C stops")
        do {
            try await withTaskCancellationHandler {
                for await event in events {
                    try Task.checkCancellation()
                    switch event {
                    case .messages(let batch, _):
                        for item in batch where ids.isEmpty || ids.contains(item.tsmId) {
                            guard let message = try? Message.decode(json: item.json) else { continue }
                            print(message)
                        }
                    case .disconnected(let reason):
                        inv.note("tail: stream disconnected (\(reason)); reconnecting")
                    case .subscriptionRefused(let topics):
                        inv.note("tail: the broker refused \(topics.joined(separator: " "))")
                    case .unusable(let reason, let topic):
                        inv.note("tail: unusable payload on \(topic): \(reason)")
                    case .connected, .reconnecting:
                        break
                    }
                }
            } onCancel: {
                Task { await subscriber.stop() }
            }
        } catch {
            await subscriber.stop()
            throw error
        }
        await subscriber.stop()
        try Task.checkCancellation()
    }

    private func poll(_ selection: FleetSelection, ids: Set<Int>, every interval: Double) async throws {
        let (devices, unreadable, _) = try await selection.resolve(FleetFetcher(client: inv.client)) { _ in nil }
        for (tuid, error) in unreadable { inv.note("tail: \(tuid): \(error)") }
        let tuids = devices.map(\.tuid)
        inv.note(
            "tail: no stream configured (--mqtt or the profile's mqtt); polling \(tuids.count) devices every "
                + "\(CommandDefinition.number(interval)) s; Ctrl-C stops")
        let client = inv.client
        var since = Dictionary(uniqueKeysWithValues: tuids.map { ($0, inv.context.now) })
        var seen: Set<String> = []
        var first = true
        while true {
            try Task.checkCancellation()
            let starts = since
            let results = await concurrentMap(tuids, limit: 8) { tuid -> (String, [Message]?) in
                let from = (starts[tuid] ?? 0) - Self.overlap
                return (tuid, try? await client.allMessages(tuid, from: from, messageIDs: Array(ids)))
            }
            var fresh: [Message] = []
            for (tuid, messages) in results {
                guard let messages else { continue }
                // The first round only learns what is there already: a tail shows what arrives from now on.
                for message in messages where seen.insert(message.deduplicationKey).inserted && !first {
                    fresh.append(message)
                }
                if let newest = messages.map(\.tsmTs).max() { since[tuid] = max(since[tuid] ?? newest, newest) }
            }
            let horizon = (since.values.min() ?? 0) - Self.overlap
            seen = seen.filter { key in key.split(separator: ":").last.flatMap { Int64($0) }.map { $0 >= horizon } ?? true }
            for message in fresh.sorted(by: { ($0.tsmTs, $0.tsmTuid) < ($1.tsmTs, $1.tsmTuid) }) { print(message) }
            first = false
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
    }

    /// One line per message: readable on a terminal, a JSON object otherwise.
    private func print(_ message: Message) {
        switch inv.output {
        case .table, .csv:
            var values = message.properties.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.cell)" }
            if let tx = message.transactionId { values.insert("transactionId=\(tx)", at: 0) }
            let line = [
                ISOTime.format(message.tsmTs), message.tsmTuid, String(message.tsmId), String(message.tsmEv),
                values.joined(separator: " "),
            ].map(Table.inert).joined(separator: "  ")
            inv.console.out(line + "\n")
        case .json, .jsonl:
            inv.console.out(message.raw.description + "\n")
        }
    }
}
