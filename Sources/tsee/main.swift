import ArgumentParser
import Foundation

// Argument errors exit 2 (DESIGN's "invalid command or arguments"), not ArgumentParser's 64.
let arguments = Tsee.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst()))
do {
    var command = try Tsee.parseAsRoot(arguments)
    if var asynchronous = command as? any AsyncParsableCommand {
        try await runAsynchronously(&asynchronous)
    } else {
        try command.run()
    }
} catch {
    if Tsee.exitCode(for: error) == .validationFailure {
        FileHandle.standardError.write(Data((Tsee.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
    Tsee.exit(withError: error)
}

func runAsynchronously<Command: AsyncParsableCommand>(_ command: inout Command) async throws {
    try await command.run()
}
