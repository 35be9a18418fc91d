import ArgumentParser
import Foundation
import REPL
import ThingseeAPI

/// The root command: the REPL, the script runner, or one REPL command; and the sub-commands below.
struct Tsee: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tsee",
        abstract: "A command line for Thingsee IoT fleets: REPL, scripts, rules and the scheduler.",
        discussion: """
            With no command, tsee starts the REPL when standard input is a terminal and otherwise runs the \
            commands it reads there. `tsee CMD ARGS…` runs one REPL command (`tsee help` lists them, \
            `tsee help exit-codes` the exit codes). With no base URL configured, tsee starts its built-in simulator.
            """,
        // Sub-commands with their own options; everything else goes to the REPL's command table.
        subcommands: [SimCommand.self, RunCommand.self])

    @OptionGroup var connection: ConnectionOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: table, json, jsonl or csv.")
    var output: String?

    @Option(name: .customLong("on-error"), help: "In scripts: stop at the first failure, or continue.")
    var onError = "stop"

    @Option(name: .customShort("c"), help: "Run these commands (separated by ; or newlines) and exit.")
    var commands: String?

    @Option(name: .customShort("f"), help: "Run the commands of this file and exit.")
    var file: String?

    @Flag(name: [.customLong("yes"), .customShort("y")], help: "Answer yes to confirmation questions.")
    var yes = false

    @Option(
        name: .customLong("db"),
        help: "The SQLite database (default: $XDG_STATE_HOME/tsee/PROFILE/tsee.db; sim/ for the built-in simulator).")
    var database: String?

    @Argument(parsing: .captureForPassthrough, help: "A REPL command and its arguments.")
    var command: [String] = []

    mutating func run() async throws {
        let console = Console.standard()
        func fail(_ message: String, _ status: ExitStatus) -> ExitCode {
            console.err("tsee: " + console.style("error:", "1;31") + " \(message)\n")
            return ExitCode(status.rawValue)
        }
        let format: OutputFormat?
        do {
            format = try output.map(OutputFormat.parse)
        } catch {
            throw fail(error.description, .usage)
        }
        guard let onError = OnError(rawValue: onError) else {
            throw fail("--on-error takes stop or continue, not `\(self.onError)`", .usage)
        }
        if commands != nil && file != nil || (commands != nil || file != nil) && !command.isEmpty {
            throw fail("give one of -c, -f or a command", .usage)
        }
        let connection: Connection
        do {
            // Local commands need no API: starting the simulator or logging in would only slow them down.
            let local =
                commands.map(Self.isLocalOnly(script:)) ?? (!command.isEmpty && Self.isLocalOnly(words: command))
            if local {
                do {
                    connection = try self.connection.offline()
                } catch where command.first == "help" || commands.map(Self.isHelpOnly(script:)) == true {
                    // A broken configuration file must not hide the help that explains how to fix it.
                    console.err("tsee: " + console.style("warning:", "1;33") + " \(error); help is shown without it\n")
                    connection = try self.connection.offline(readingConfiguration: false)
                }
            } else {
                connection = try await self.connection.open()
            }
        } catch {
            throw fail("\(error)", ExitStatus.of(error))
        }
        let context = CommandContext(
            client: connection.client, connectionLabel: connection.label,
            databasePath: database ?? connection.databasePath, databasePasswordFile: connection.databasePasswordFile,
            registry: .standard(), console: console,
            output: format, assumeYes: yes, confirmer: TerminalConfirmer.ifTerminal(),
            configuration: connection.configuration, profileName: connection.profileName)
        let runner = ScriptRunner(context: context, onError: onError)
        let status: ExitStatus
        if let commands {
            status = await runner.run(text: commands)
        } else if let file {
            status = await runner.run(file: file)
        } else if !command.isEmpty {
            status = await context.execute(words: command)
        } else if isatty(0) == 1 {
            status = await InteractiveShell(context: context, history: History(path: connection.historyPath)).run()
        } else {
            status = await runner.runStandardInput()
        }
        await connection.close()
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    /// The sub-command named by the first word that is not an option, with the words to parse it from: those
    /// after its name, then the options that stood before it.
    static func subcommand(in arguments: [String]) -> (any ParsableCommand.Type, [String])? {
        var i = 0
        while i < arguments.count, arguments[i].hasPrefix("-"), arguments[i] != "--" {
            i += optionsWithValue.contains(arguments[i]) ? 2 : 1
        }
        guard i < arguments.count,
            let type = configuration.subcommands.first(where: { $0._commandName == arguments[i] })
        else { return nil }
        return (type, Array(arguments[(i + 1)...]) + Array(arguments[..<i]))
    }

    static let optionsWithValue: Set<String> = [
        "-o", "--output", "--on-error", "--base-url", "--client-id", "--client-secret-file", "--db", "-c", "-f",
        "--time-scale", "--profile", "--timeout",
    ]

    /// Commands that never call the API: files, the action log, the session itself.
    static let localCommands: Set<String> = ["help", "exit", "log", "status", "set", "profiles"]
    static let localRulesCommands: Set<String> = ["check", "test", "list", "load"]

    static func isLocalOnly(words: [String]) -> Bool {
        guard let first = words.first else { return true }
        if first == "rules" { return words.dropFirst().first.map(localRulesCommands.contains) ?? false }
        return localCommands.contains(first)
    }

    /// Whether every command of a `-c` script is local. Conservative: a `;` inside quotes splits a command
    /// here, which can only make a piece look non-local and open the connection.
    static func isLocalOnly(script: String) -> Bool {
        roughCommands(of: script).allSatisfy(isLocalOnly(words:))
    }

    /// Whether a `-c` script only asks for help.
    static func isHelpOnly(script: String) -> Bool {
        roughCommands(of: script).allSatisfy { $0.first == "help" }
    }

    /// A `-c` script's commands split on `;`, newlines and spaces, ignoring quotes: good enough to see which
    /// commands it runs, not to run them.
    static func roughCommands(of script: String) -> [[String]] {
        script.split(whereSeparator: { $0 == ";" || $0 == "\n" }).map { $0.split(separator: " ").map(String.init) }
    }

    /// Moves global options that follow a REPL command in front of it, so that `tsee thing X -o json` means
    /// `tsee -o json thing X`. Sub-commands (`tsee sim …`) and everything after `--` are left alone.
    static func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
        let hoistable: Set<String> = [
            "-o", "--output", "--on-error", "--base-url", "--client-id", "--client-secret-file", "--db",
            "--time-scale", "--profile", "--timeout",
        ]
        let hoistableFlags: Set<String> = ["--sim", "-q", "--quiet"]
        var i = 0
        while i < arguments.count, arguments[i].hasPrefix("-"), arguments[i] != "--" {
            i += optionsWithValue.contains(arguments[i]) ? 2 : 1
        }
        guard i < arguments.count, arguments[i] != "--" else { return arguments }
        let subcommands = Set(configuration.subcommands.map { $0._commandName })
        if subcommands.contains(arguments[i]) { return arguments }
        var front = Array(arguments[..<i])
        var rest: [String] = []
        var j = i
        while j < arguments.count {
            let word = arguments[j]
            if word == "--" {
                rest += arguments[j...]
                break
            }
            let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
            if hoistable.contains(word), j + 1 < arguments.count {
                front += [word, arguments[j + 1]]
                j += 2
                continue
            }
            if word.hasPrefix("--"), word.contains("="), hoistable.contains(name) || hoistableFlags.contains(name) {
                front.append(word)
            } else if hoistableFlags.contains(word) {
                front.append(word)
            } else {
                rest.append(word)
            }
            j += 1
        }
        return front + rest
    }
}
