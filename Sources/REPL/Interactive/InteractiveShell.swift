import Automation
import CReadline
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The interactive REPL: readline with completion and history, Ctrl-C to clear the line or cancel the running
/// command, Ctrl-D to leave.
public final class InteractiveShell: Sendable {
    public let context: CommandContext
    public let history: History?
    private let editor: LineEditor
    private let mode = Mutex<Mode>(.idle)

    enum Mode {
        case idle
        case reading
        case running(Task<ExitStatus, Never>, ResumeOnce)
    }

    public init(context: CommandContext, history: History? = History(path: History.defaultPath())) {
        self.context = context
        self.history = history
        let cache = context.cache
        let client = context.client
        editor = LineEditor(
            completer: Completer(
                registry: context.registry, cache: cache, willUseServerValues: { cache.refreshIfStale(using: client) },
                ruleNames: { [context] in
                    // The session's rule files, read afresh: they are small, and an edit shows at the next Tab.
                    (try? RuleFiles.load(context.rulePaths ?? ["rules"]))?.0.rules.map(\.name) ?? []
                },
                profileNames: { [context] in context.configuration?.profileNames ?? [] }))
    }

    public var prompt: String { "tsee[\(context.connectionLabel)]> " }

    /// Runs until `exit` or Ctrl-D; returns the status of `exit CODE`, else 0.
    public func run() async -> ExitStatus {
        history?.load()
        Signals.setHandler(SIGINT) { [self] _ in interrupt() }
        defer { Signals.setHandler(SIGINT, nil) }
        context.confirmer = ReadlineConfirmer(shell: self)
        context.isInteractive = true
        defer { context.isInteractive = false }
        let cache = context.cache
        let client = context.client
        Task.detached { await cache.refresh(using: client) }
        context.console.err(
            "tsee: connected to \(context.connectionLabel == "sim" ? "the built-in simulator" : context.client.configuration.displayHost)."
                + " Type help for commands; Tab completes, Ctrl-R searches history, Ctrl-D exits.\n")
        while true {
            switch await read(prompt: prompt, interruptEnds: false) {
            case .endOfFile, .interrupted:
                context.console.out("\n")
                return .ok
            case .line(let line):
                history?.record(line)
                let commands: [String]
                do {
                    commands = try LineTokenizer.split(line)
                } catch {
                    context.report(error)
                    continue
                }
                for command in commands {
                    let words = (try? LineTokenizer.words(command, variable: context.variable)) ?? []
                    if words.first == "exit" {
                        let status = await context.execute(words: words)
                        if status != .usage { return status }
                        continue
                    }
                    let status = await runCancellable(command)
                    if status == .interrupted { break }
                }
            }
        }
    }

    /// Runs one command in a task that Ctrl-C cancels. A command that does not end within a second of being
    /// cancelled (a request stuck below URLSession) is abandoned, so that the prompt always comes back.
    private func runCancellable(_ command: String) async -> ExitStatus {
        let context = self.context
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<ExitStatus, Never>) in
            let gate = ResumeOnce(continuation)
            let task = Task {
                let status = await context.execute(line: command)
                gate.resume(status)
                return status
            }
            mode.withLock { $0 = .running(task, gate) }
        }
        mode.withLock { $0 = .idle }
        return status
    }

    func read(prompt: String, interruptEnds: Bool) async -> LineEditor.Result {
        let previous = mode.withLock { m in
            defer { m = .reading }
            return m
        }
        let result = await editor.readLine(prompt: prompt, interruptEnds: interruptEnds)
        mode.withLock { $0 = previous }
        return result
    }

    private func interrupt() {
        let running = mode.withLock { m -> (Task<ExitStatus, Never>, ResumeOnce)? in
            if case .running(let task, let gate) = m { return (task, gate) }
            return nil
        }
        guard let (task, gate) = running else {
            editor.interrupt()
            return
        }
        // The fallback is armed first and the cancellation runs elsewhere: cancelling a request stuck inside
        // URLSession can block the cancelling thread, and this one must stay free for the next Ctrl-C.
        let console = context.console
        DispatchQueue.global().asyncAfter(deadline: .now() + 1) {
            if gate.resume(.interrupted) { console.err("tsee: cancelled\n") }
        }
        DispatchQueue.global().async { task.cancel() }
    }
}

/// Resumes a continuation at most once, from whichever side comes first.
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<ExitStatus, Never>?>

    init(_ continuation: CheckedContinuation<ExitStatus, Never>) {
        self.continuation = Mutex(continuation)
    }

    /// Whether this call resumed it.
    @discardableResult
    func resume(_ status: ExitStatus) -> Bool {
        guard
            let c = continuation.withLock({ c in
                defer { c = nil }; return c
            })
        else { return false }
        c.resume(returning: status)
        return true
    }
}

/// Asks on the terminal through readline (no history), as part of the running command.
struct ReadlineConfirmer: Confirmer {
    let shell: InteractiveShell

    func confirm(_ question: String) async -> Bool? {
        switch await shell.read(prompt: question + " [y/N] ", interruptEnds: true) {
        case .line(let answer):
            return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
        case .endOfFile, .interrupted:
            return false
        }
    }
}

/// Asks on the terminal with plain line reading (single commands and scripts run from a terminal).
public struct TerminalConfirmer: Confirmer {
    public init() {}

    /// A confirmer when standard input and standard error are terminals, else `nil` (never prompt).
    public static func ifTerminal() -> TerminalConfirmer? {
        isatty(0) == 1 && isatty(2) == 1 ? TerminalConfirmer() : nil
    }

    public func confirm(_ question: String) async -> Bool? {
        writeAll(2, question + " [y/N] ")
        let answer: String? = await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: Swift.readLine()) }
        }
        guard let answer else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
