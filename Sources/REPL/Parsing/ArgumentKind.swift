/// What a positional argument or a flag's value is, for validation messages and Tab completion.
public enum ArgumentKind: Sendable, Equatable {
    case tuid
    case group
    case status
    case commandID
    /// `key=value` parameters of the command id given earlier on the line.
    case commandParameter
    case outputFormat
    case time
    case duration
    case number
    case field
    /// A whole command line (as `watch` takes).
    case command
    /// A `help` topic: a command name or `exit-codes`.
    case helpTopic
    case path
    /// A column of `things`.
    case column
    /// A rule name of the session's rule files.
    case ruleName
    /// A profile of the configuration file.
    case profile
    case text
}

/// One flag a command accepts.
public struct FlagSpec: Sendable {
    /// Every spelling, the canonical one first (`--limit`, `-n`).
    public var names: [String]
    /// The value's placeholder (`N`, `T`); `nil` for a flag without a value.
    public var valueName: String?
    /// The value may be left out (`--wait [DUR]`); it is taken only when the next word fits `kind`.
    public var valueIsOptional: Bool
    public var kind: ArgumentKind
    public var help: String

    public init(
        _ names: [String], value: String? = nil, optional: Bool = false, kind: ArgumentKind = .text, help: String
    ) {
        self.names = names
        self.valueName = value
        self.valueIsOptional = optional
        self.kind = kind
        self.help = help
    }

    public var name: String { names[0] }

    /// `--limit N`, `--wait [DUR]`, `--yes`.
    public var usage: String {
        guard let valueName else { return names.joined(separator: "/") }
        return names.joined(separator: "/") + (valueIsOptional ? " [\(valueName)]" : " \(valueName)")
    }

    /// Flags every command takes.
    public static let universal: [FlagSpec] = [
        FlagSpec(
            ["-o", "--output"], value: "FORMAT", kind: .outputFormat,
            help: "output format: table, json, jsonl or csv (default: table on a terminal, else json)"),
        FlagSpec(["--yes", "-y"], help: "answer yes to confirmation questions"),
    ]
}
