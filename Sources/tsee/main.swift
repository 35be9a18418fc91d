import ArgumentParser
import Foundation

// Argument errors exit 2 (DESIGN's "invalid command or arguments"), not ArgumentParser's 64.
let arguments = Tsee.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst()))
// The root's pass-through argument would swallow sub-command names, so sub-commands are parsed on their own.
let subcommand = arguments.first.flatMap { name in Tsee.configuration.subcommands.first { $0._commandName == name } }
do {
    var command = try subcommand.map { try $0.parseAsRoot(Array(arguments.dropFirst())) } ?? Tsee.parseAsRoot(arguments)
    if var asynchronous = command as? any AsyncParsableCommand {
        try await runAsynchronously(&asynchronous)
    } else {
        try command.run()
    }
} catch {
    let parser = subcommand ?? Tsee.self
    if parser.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((parser.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    parser.exit(withError: error)
}

func runAsynchronously<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
    try await command.run()
}
