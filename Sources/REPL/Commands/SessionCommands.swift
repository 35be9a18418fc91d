import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let watch = CommandDefinition(
        name: "watch", summary: "repeat a command, redrawing on a terminal", usage: "[-n SECONDS] [-c COUNT] CMD",
        positionals: [.command],
        flags: [
            FlagSpec(["-n", "--interval"], value: "SECONDS", kind: .number, help: "seconds between runs (default 2)"),
            FlagSpec(
                ["-c", "--count"], value: "COUNT", kind: .number, help: "stop after COUNT runs (default: until Ctrl-C)"),
        ],
        example: "watch -n 10 messages TSPD04LLY59881187 --limit 5", stopsAtFirstPositional: true
    ) { inv in
        guard !inv.positionals.isEmpty else {
            throw CommandError.usage("watch: missing command; usage: watch \(inv.command.usage)")
        }
        let interval: Double
        if let text = inv.arguments.value("-n") {
            guard let d = Double(text), d > 0, d.isFinite else {
                throw CommandError.usage("-n must be a positive number of seconds, not `\(text)`")
            }
            interval = d
        } else {
            interval = 2
        }
        let count = try inv.positiveInt("-c")
        let words = inv.positionals
        _ = try inv.context.registry.resolve(words)
        guard words[0] != "watch" else { throw CommandError.usage("watch: cannot watch `watch`") }
        let redraw = inv.console.isTerminal
        var run = 0
        var last = ExitStatus.ok
        while count.map({ run < $0 }) ?? true {
            try Task.checkCancellation()
            if run > 0 { try await Task.sleep(for: .milliseconds(Int(interval * 1000))) }
            run += 1
            if redraw {
                let line = words.map(LineTokenizer.quote).joined(separator: " ")
                inv.console.out(
                    "\u{1B}[H\u{1B}[2J"
                        + inv.console.style(
                            "every \(CommandDefinition.number(interval)) s: \(line)    \(ISOTime.format(inv.context.now))",
                            "2") + "\n\n")
            }
            last = await inv.context.execute(words: words)
            if last == .interrupted { throw CancellationError() }
        }
        if last != .ok { throw CommandError.failed("watch: the last run failed (exit \(last))", last) }
    }

    static let login = CommandDefinition(
        name: "login", summary: "log in again (fetch a new access token)", example: "login"
    ) { inv in
        try inv.expectPositionals(0, 0)
        try await inv.client.login()
        let message = "logged in to \(inv.client.configuration.displayHost) as \(inv.client.configuration.clientID)"
        inv.emit(
            Rendered(
                data: ["loggedIn": true, "baseURL": .string(inv.client.configuration.baseURL.absoluteString)],
                text: message))
    }

    static let set = CommandDefinition(
        name: "set", summary: "set a variable for later commands ($NAME, ${NAME}); alone: list them",
        usage: "[NAME VALUE…]", positionals: [.text, .text], variadic: true,
        example: "set dev TSPD04LLY59881187; thing $dev",
        notes: ["Lines that set a name containing SECRET, TOKEN or PASSWORD are never written to the history."]
    ) { inv in
        guard let name = inv.positionals.first else {
            // Never a secret, in any format: a secret-looking name or a credential-looking value shows redacted.
            let vars = inv.context.variables.mapValues { $0 }
            var shown: [String: String] = [:]
            for (name, value) in vars {
                shown[name] = History.isSecretName(name) || History.looksLikeCredential(value) ? "<redacted>" : value
            }
            let rows = shown.keys.sorted().map { [$0, shown[$0]!] }
            inv.emit(
                Rendered(
                    data: .object(shown.mapValues { .string($0) }),
                    table: Table(columns: ["name", "value"], rows: rows))
            )
            return
        }
        guard LineTokenizer.isIdentifier(name) else {
            throw CommandError.usage(
                "`\(name)` is not a variable name: use letters, digits and _, starting with a letter")
        }
        guard inv.positionals.count >= 2 else { throw CommandError.usage("set: missing value; usage: set NAME VALUE") }
        inv.context.setVariable(name, inv.positionals.dropFirst().joined(separator: " "))
    }

    static let help = CommandDefinition(
        name: "help", summary: "list commands, or show one command's usage, flags and an example",
        usage: "[CMD [SUBCMD] | exit-codes]", positionals: [.helpTopic, .helpTopic], example: "help send"
    ) { inv in
        inv.console.out(HelpText.render(inv.positionals, registry: inv.context.registry, colour: inv.console.colour))
    }

    static let exit = CommandDefinition(
        name: "exit", summary: "leave the REPL or end the script", usage: "[CODE]", example: "exit"
    ) { inv in
        try inv.expectPositionals(0, 1)
        let code = inv.positionals.first.map { Int32($0) } ?? 0
        // A process exit status is one byte: `exit 256` would read as success.
        guard let code, (0...255).contains(code) else { throw CommandError.usage("exit takes a number from 0 to 255") }
        throw CommandError.exit(ExitStatus(rawValue: code))
    }
}

/// The text of `help`.
public enum HelpText {
    public static func render(_ topic: [String], registry: CommandRegistry, colour: Bool = false) -> String {
        func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
        if topic.first == "exit-codes" { return ExitStatus.documentation + "\n" }
        guard let name = topic.first else {
            let commands = registry.commands
            let width = commands.map(\.name.count).max() ?? 0
            var out = "Commands (help CMD for details, help exit-codes for exit codes):\n"
            for c in commands {
                out += "  " + bold(c.name) + String(repeating: " ", count: width - c.name.count) + "  \(c.summary)\n"
            }
            out +=
                "Times T: Unix seconds, ISO-8601, -30m/-1h/-7d or now. Every command takes -o table|json|jsonl|csv.\n"
            return out
        }
        guard var command = registry.command(named: name) else {
            return "no command `\(name)`; type `help` for the list\n"
        }
        var path = name
        if topic.count > 1, let sub = command.subcommand(topic[1]) {
            command = sub
            path += " " + topic[1]
        }
        var out = bold("\(path) \(command.usage)".trimmingCharacters(in: .whitespaces)) + "\n  \(command.summary)\n"
        for sub in command.subcommands {
            out += "  \(path) \(sub.name) \(sub.usage)\n      \(sub.summary)\n"
        }
        if !command.flags.isEmpty {
            out += "Flags:\n"
            let width = command.flags.map(\.usage.count).max() ?? 0
            for f in command.flags {
                out += "  \(f.usage)" + String(repeating: " ", count: width - f.usage.count) + "  \(f.help)\n"
            }
        }
        for note in command.notes { out += note + "\n" }
        if !command.example.isEmpty { out += "Example:\n  \(command.example)\n" }
        return out
    }
}
