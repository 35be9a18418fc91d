import ThingseeKit
import Synchronization

/// The table of REPL commands. `help`, completion and dispatch all read it, so a command registered here
/// is complete: `registry.register(.rules)` is all another module's command needs.
public final class CommandRegistry: Sendable {
    private let table = Mutex<[CommandDefinition]>([])

    public init(_ commands: [CommandDefinition] = []) {
        for c in commands { register(c) }
    }

    /// The registry with every built-in command (see `CommandDefinition.builtins`).
    public static func standard() -> CommandRegistry { CommandRegistry(CommandDefinition.builtins) }

    /// Adds a command, replacing one of the same name.
    public func register(_ command: CommandDefinition) {
        table.withLock { t in
            t.removeAll { $0.name == command.name }
            t.append(command)
        }
    }

    /// Every command, in registration order.
    public var commands: [CommandDefinition] { table.withLock { $0 } }

    public func command(named name: String) -> CommandDefinition? {
        table.withLock { t in t.first { $0.name == name } }
    }

    /// The command a line's words invoke, descending into sub-commands: the definition, its path
    /// (`["group", "create"]`) and the remaining words.
    public func resolve(_ words: [String]) throws(CommandError) -> (CommandDefinition, [String], [String]) {
        guard let first = words.first else { throw .usage("empty command") }
        if first.hasPrefix("-") {
            throw .usage("unknown option `\(first)`; see `tsee --help` for options and `help` for commands")
        }
        guard var command = command(named: first) else {
            let suggestion = Suggestion.closest(to: first, among: commands.map(\.name)).map {
                " (did you mean `\($0)`?)"
            }
            throw .usage("unknown command `\(first)`\(suggestion ?? ""); type `help` for the list")
        }
        var path = [first]
        var rest = Array(words.dropFirst())
        while !command.subcommands.isEmpty {
            let names = command.subcommands.map(\.name)
            guard let next = rest.first, let sub = command.subcommand(next) else {
                let given = rest.first.map { "unknown sub-command `\($0)`" } ?? "missing sub-command"
                throw .usage(
                    "\(path.joined(separator: " ")): \(given); expected one of: \(names.joined(separator: ", "))")
            }
            command = sub
            path.append(next)
            rest.removeFirst()
        }
        return (command, path, rest)
    }
}

/// "Did you mean" suggestions by edit distance.
public enum Suggestion {
    public static func closest(to word: String, among candidates: [String]) -> String? {
        EditDistance.closest(to: word, in: candidates, allowed: max(1, word.count / 3))
    }
}
