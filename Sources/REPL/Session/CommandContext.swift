import Profiles
import Foundation
import Synchronization
import ThingseeAPI

/// Asks the user a yes/no question; `nil` when there is no terminal to ask on.
public protocol Confirmer: Sendable {
    func confirm(_ question: String) async -> Bool?
}

/// Everything a command can reach: the API client, where to write, the session's variables and settings.
///
/// One context serves a whole session (REPL, script or single command). Commands run one at a time, but the
/// mutable parts sit behind a mutex so that a background task (the completion cache) may read them.
public final class CommandContext: Sendable {
    public let client: ThingseeClient
    /// What the prompt shows: `sim` for the built-in simulator, else the API's host.
    public let connectionLabel: String
    /// The database of the rules and the action log (`--db`): a SQLite path or a `postgres://` URL.
    public let databasePath: String
    /// The profile's `db_password_file`, for a PostgreSQL database.
    public let databasePasswordFile: String?
    public let registry: CommandRegistry
    public let console: Console
    public let cache: CompletionCache
    /// The configuration file, when there is one (`profiles`).
    public let configuration: ConfigurationFile?
    /// The profile in use, if any.
    public let profileName: String?
    private let state: Mutex<State>

    struct State {
        var variables: [String: String] = [:]
        var output: OutputFormat?
        var assumeYes = false
        var confirmer: (any Confirmer)?
        var rulePaths: [String]?
        var interactive = false
    }

    public init(
        client: ThingseeClient, connectionLabel: String, databasePath: String, databasePasswordFile: String? = nil,
        registry: CommandRegistry = .standard(),
        console: Console = .standard(), output: OutputFormat? = nil, assumeYes: Bool = false,
        confirmer: (any Confirmer)? = nil, configuration: ConfigurationFile? = nil, profileName: String? = nil
    ) {
        self.configuration = configuration
        self.profileName = profileName
        self.client = client
        self.connectionLabel = connectionLabel
        self.databasePath = databasePath
        self.databasePasswordFile = databasePasswordFile
        self.registry = registry
        self.console = console
        self.cache = CompletionCache()
        self.state = Mutex(State(output: output, assumeYes: assumeYes, confirmer: confirmer))
    }

    /// The format results are printed in unless a command says `-o`: the session's `-o`, else a table on a
    /// terminal and JSON otherwise.
    public var defaultOutput: OutputFormat {
        state.withLock { $0.output } ?? (console.isTerminal ? .table : .json)
    }

    public var assumeYes: Bool { state.withLock { $0.assumeYes } }

    public func variable(_ name: String) -> String? { state.withLock { $0.variables[name] } }
    public var variables: [String: String] { state.withLock { $0.variables } }
    public func setVariable(_ name: String, _ value: String) { state.withLock { $0.variables[name] = value } }

    /// The rule files `rules load` chose for this session; `nil` means `./rules`.
    public var rulePaths: [String]? {
        get { state.withLock { $0.rulePaths } }
        set { state.withLock { $0.rulePaths = newValue } }
    }

    /// Whether the interactive shell runs the commands: it owns SIGINT then (Ctrl-C cancels the running command).
    public var isInteractive: Bool {
        get { state.withLock { $0.interactive } }
        set { state.withLock { $0.interactive = newValue } }
    }

    public var confirmer: (any Confirmer)? {
        get { state.withLock { $0.confirmer } }
        set { state.withLock { $0.confirmer = newValue } }
    }

    /// The server's clock (Unix seconds), for relative times and "ago".
    public var now: Int64 { client.serverNow() }

    // MARK: - Running commands

    /// Runs one command line (quoted text, variables expanded), printing its result or its error.
    /// - Parameter location: prefixed to error messages (`FILE:LINE`), if any.
    public func execute(line command: String, location: String? = nil) async -> ExitStatus {
        let words: [String]
        do {
            words = try LineTokenizer.words(command, variable: variable)
        } catch {
            report(error, location: location)
            return error.status
        }
        return await execute(words: words, location: location)
    }

    /// Runs one command given as words (already split, as a shell splits `tsee CMD ARGS…`).
    public func execute(words: [String], location: String? = nil) async -> ExitStatus {
        do {
            try await run(words)
            return .ok
        } catch {
            if case CommandError.exit(let status) = error { return status }
            // Ctrl-C: the terminal shows ^C already; an error line would only say what the user just did.
            if Task.isCancelled || error is CancellationError || isCancellation(error) { return .interrupted }
            report(error, location: location)
            return ExitStatus.of(error)
        }
    }

    /// Runs a command and lets its error through (for commands that run other commands, like `watch`).
    public func run(_ words: [String]) async throws {
        let (command, path, rest) = try registry.resolve(words)
        guard let body = command.run else { throw CommandError.usage("`\(path.joined(separator: " "))` cannot be run") }
        let arguments = try ParsedArguments.parse(
            rest, specs: command.allFlags, stopAtFirstPositional: command.stopsAtFirstPositional)
        var output = defaultOutput
        if let o = arguments.value("-o") { output = try OutputFormat.parse(o) }
        let invocation = Invocation(
            context: self, command: command, path: path, arguments: arguments, output: output,
            assumeYes: assumeYes || arguments.has("--yes"))
        try await body(invocation)
        // Only now: a TUID the API answered 404 (a typo) never enters Tab completion.
        for tuid in invocation.checkedTUIDs.all { cache.note(tuid: tuid) }
    }

    private func isCancellation(_ error: any Error) -> Bool {
        if case ThingseeError.cancelled = error { return true }
        return false
    }

    /// Prints an error on standard error: the location, the message and a next step.
    public func report(_ error: any Error, location: String? = nil) {
        let message: String
        switch error {
        case let e as CommandError: message = e.description
        case let e as ThingseeError: message = e.description
        default: message = "\(error)"
        }
        let prefix = location.map { "\($0): " } ?? "tsee: "
        console.err(prefix + console.style("error:", "1;31") + " " + message + "\n")
    }
}

/// One run of a command: its parsed arguments and where its result goes.
public struct Invocation: Sendable {
    public let context: CommandContext
    public let command: CommandDefinition
    /// The command's words, sub-command included: `["group", "create"]`.
    public let path: [String]
    public let arguments: ParsedArguments
    public let output: OutputFormat
    public let assumeYes: Bool
    /// TUIDs checked by `tuid(at:)`, noted for completion once the command succeeds.
    let checkedTUIDs = TUIDList()

    public var client: ThingseeClient { context.client }
    public var console: Console { context.console }
    public var positionals: [String] { arguments.positionals }

    /// Prints a result in the chosen format.
    public func emit(_ result: Rendered) {
        console.out(result.formatted(output, colour: console.colour))
    }

    /// Prints a note for people (on standard error, so that it never mixes with JSON on standard output).
    public func note(_ text: String) {
        console.err(text + "\n")
    }

    public var name: String { path.joined(separator: " ") }

    /// Fails unless there are between `min` and `max` positionals.
    public func expectPositionals(_ min: Int, _ max: Int? = nil) throws(CommandError) {
        let n = positionals.count
        if n < min || (max.map { n > $0 } ?? false) {
            let expected = n < min ? "missing arguments" : "too many arguments"
            throw .usage("\(name): \(expected); usage: \(name) \(command.usage)")
        }
    }

    /// The positional at `index`, checked to be a TUID.
    public func tuid(at index: Int) throws(CommandError) -> String {
        let text = positionals[index]
        guard TUID.isValid(text) else {
            throw .usage(
                "`\(text)` is not a TUID: expected 17 upper-case letters or digits (a 6-character model code and an "
                    + "11-character serial), e.g. TSPD04LLY59881187")
        }
        checkedTUIDs.append(text)
        return text
    }

    /// A time flag's value (Unix seconds, ISO-8601, `-1h`, `now`).
    public func time(_ flag: String) throws(CommandError) -> Int64? {
        guard let text = arguments.value(flag) else { return nil }
        guard let t = TimeExpression.parse(text, now: context.now) else {
            throw .usage("\(flag) `\(text)` is not a time: use Unix seconds, ISO-8601, -30m/-1h/-7d or now")
        }
        return t
    }

    /// A positive integer flag's value.
    public func positiveInt(_ flag: String) throws(CommandError) -> Int? {
        guard let text = arguments.value(flag) else { return nil }
        guard let n = Int(text), n > 0 else { throw .usage("\(flag) must be a positive integer, not `\(text)`") }
        return n
    }

    /// A comma-separated list of integers (`--id 1110,12100`).
    public func intList(_ flag: String) throws(CommandError) -> [Int] {
        guard let text = arguments.value(flag) else { return [] }
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        let numbers = items.compactMap { Int($0) }
        guard numbers.count == items.count, !numbers.isEmpty, numbers.allSatisfy({ $0 >= 0 }) else {
            throw .usage("\(flag) takes comma-separated numbers, e.g. \(flag) 1110,12100; not `\(text)`")
        }
        return numbers
    }
}

/// TUIDs collected while a command runs.
final class TUIDList: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ tuid: String) { list.withLock { $0.append(tuid) } }
    var all: [String] { list.withLock { $0 } }
}
