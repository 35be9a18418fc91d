import ArgumentParser
import Foundation
import REPL

// The root command takes every word after the options as a REPL command, so sub-commands (`tsee sim`,
// `tsee run`) are routed here by name; options given before one are passed on after its name.
let arguments = Tsee.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst()))
if let (subcommand, rest) = Tsee.subcommand(in: arguments) {
    await execute(subcommand, rest)
} else if arguments.first == "--help" || arguments.first == "-h" {
    print(Tsee.helpMessage())
} else if arguments == ["--version"] {
    print("tsee \(TseeVersion.current)")
} else {
    await execute(Tsee.self, arguments)
}

/// Parses and runs a command; argument errors exit 2 (DESIGN's "invalid command or arguments"), not 64.
func execute(_ type: any ParsableCommand.Type, _ arguments: [String]) async {
    do {
        var command = try type.parseAsRoot(arguments)
        if var asynchronous = command as? any AsyncParsableCommand {
            try await runAsynchronously(&asynchronous)
        } else {
            try command.run()
        }
    } catch {
        if type.exitCode(for: error) == .validationFailure {
            FileHandle.standardError.write(Data((type.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
        type.exit(withError: error)
    }
}

func runAsynchronously<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
    try await command.run()
}
