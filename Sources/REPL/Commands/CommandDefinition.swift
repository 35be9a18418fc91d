/// One command of the REPL: its help text, its arguments (for parsing and completion) and what it does.
///
/// A command with `subcommands` (`group`, `rules`) dispatches on its first word and has no `run` of its own.
public struct CommandDefinition: Sendable {
    public var name: String
    /// One line for `help`'s list.
    public var summary: String
    /// The arguments after the name, as `help` shows them: `TUID [--limit N]`.
    public var usage: String
    /// The kind of each positional argument, for completion; the last one repeats when `variadic`.
    public var positionals: [ArgumentKind]
    public var variadic: Bool
    public var flags: [FlagSpec]
    public var example: String
    /// Further paragraphs for `help NAME`.
    public var notes: [String]
    public var subcommands: [CommandDefinition]
    /// Flags are read only before the first positional; the rest is left as it is (`watch … CMD`).
    public var stopsAtFirstPositional: Bool
    public var run: (@Sendable (Invocation) async throws -> Void)?

    public init(
        name: String, summary: String, usage: String = "", positionals: [ArgumentKind] = [], variadic: Bool = false,
        flags: [FlagSpec] = [], example: String = "", notes: [String] = [], subcommands: [CommandDefinition] = [],
        stopsAtFirstPositional: Bool = false, run: (@Sendable (Invocation) async throws -> Void)? = nil
    ) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.positionals = positionals
        self.variadic = variadic
        self.flags = flags
        self.example = example
        self.notes = notes
        self.subcommands = subcommands
        self.stopsAtFirstPositional = stopsAtFirstPositional
        self.run = run
    }

    /// The flags this command accepts, the universal ones (`-o`, `--yes`) included.
    public var allFlags: [FlagSpec] { flags + FlagSpec.universal }

    func subcommand(_ name: String) -> CommandDefinition? { subcommands.first { $0.name == name } }
}
