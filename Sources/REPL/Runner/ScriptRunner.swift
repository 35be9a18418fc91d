import Foundation

/// What a script does after a failing command.
public enum OnError: String, Sendable, CaseIterable {
    /// Stop at the first failure and exit with its code.
    case stop
    /// Run on, and exit with the first non-zero code.
    case `continue`
}

/// Runs lines of commands: `-c` text, a `-f` file, or standard input when it is not a terminal.
public struct ScriptRunner: Sendable {
    public let context: CommandContext
    public let onError: OnError

    public init(context: CommandContext, onError: OnError = .stop) {
        self.context = context
        self.onError = onError
    }

    /// Runs every command of `lines`. Errors are prefixed `NAME:LINE:` when `name` is given.
    public func run<Lines: AsyncSequence<String, any Error>>(_ lines: Lines, name: String?) async -> ExitStatus {
        var first: ExitStatus = .ok
        var number = 0
        do {
            for try await line in lines {
                number += 1
                let location = name.map { "\($0):\(number)" }
                let commands: [String]
                do {
                    commands = try LineTokenizer.split(line)
                } catch {
                    context.report(error, location: location)
                    if first == .ok { first = error.status }
                    if onError == .stop { return first }
                    continue
                }
                for command in commands {
                    if Task.isCancelled { return .interrupted }
                    if command == "exit" || command.hasPrefix("exit ") {
                        let status = await context.execute(line: command, location: location)
                        return first == .ok ? status : first
                    }
                    let status = await context.execute(line: command, location: location)
                    if status != .ok {
                        if first == .ok { first = status }
                        if onError == .stop || status == .interrupted { return first }
                    }
                }
            }
        } catch {
            context.report(CommandError.failed("cannot read \(name ?? "input"): \(error)", .usage))
            return first == .ok ? .usage : first
        }
        return first
    }

    /// Runs the text of `-c` (commands separated by `;` or newlines).
    public func run(text: String) async -> ExitStatus {
        await run(StringLines(text: text), name: nil)
    }

    /// Runs a file of commands.
    public func run(file path: String) async -> ExitStatus {
        guard let data = FileManager.default.contents(atPath: path) else {
            context.report(CommandError.usage("cannot read script file \(path)"))
            return .usage
        }
        return await run(StringLines(text: String(decoding: data, as: UTF8.self)), name: path)
    }

    /// Runs commands read from standard input, line by line, with no prompt and no echo.
    public func runStandardInput() async -> ExitStatus {
        await run(StandardInputLines(), name: "stdin")
    }
}

/// The lines of a string, as an async sequence.
struct StringLines: AsyncSequence, Sendable {
    typealias Element = String
    let text: String

    struct AsyncIterator: AsyncIteratorProtocol {
        var lines: [Substring]
        var index = 0
        mutating func next() async throws -> String? {
            guard index < lines.count else { return nil }
            defer { index += 1 }
            return String(lines[index])
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lines: text.split(separator: "\n", omittingEmptySubsequences: false))
    }
}

/// Standard input's lines, read with plain blocking reads off the cooperative pool.
struct StandardInputLines: AsyncSequence, Sendable {
    typealias Element = String

    struct AsyncIterator: AsyncIteratorProtocol {
        mutating func next() async throws -> String? {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: Swift.readLine(strippingNewline: true))
                }
            }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
}
