import CReadline
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

// readline is one process-wide state machine driven through C callbacks that cannot capture context. These
// globals are its Swift side. They are touched only by the thread inside `LineEditor.blockingRead` (the
// callbacks run within `rl_callback_read_char` on that thread), and `LineEditor` runs one read at a time.
nonisolated(unsafe) private var completedLine: String?
nonisolated(unsafe) private var lineFinished = false
nonisolated(unsafe) private var activeCompleter: Completer?
nonisolated(unsafe) private var completionMatches: [String] = []
nonisolated(unsafe) private var completionIndex = 0
/// Written by the SIGINT handler, read by the reading thread: a Ctrl-C arrived while a line was being edited.
/// Where readline's output goes: standard output, or standard error when standard output is redirected.
nonisolated(unsafe) private var echoDescriptor: Int32 = 1
nonisolated(unsafe) private var interruptPipe: (read: Int32, write: Int32) = (-1, -1)

private let handleLine: @convention(c) (UnsafeMutablePointer<CChar>?) -> Void = { line in
    if let line {
        completedLine = String(cString: line)
        free(line)
    } else {
        completedLine = nil
    }
    lineFinished = true
    rl_callback_handler_remove()
}

private let attemptCompletion:
    @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = {
        text, _, end in
        tsee_rl_set_attempted_completion_over(1)
        guard let text, let completer = activeCompleter, let buffer = tsee_rl_line_buffer() else { return nil }
        let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(end))
        let line = String(decoding: bytes, as: UTF8.self)
        completionMatches = completer.candidates(line: line)
        completionIndex = 0
        if !completionMatches.isEmpty, completionMatches.allSatisfy({ $0.hasSuffix("=") || $0.hasSuffix("/") }) {
            tsee_rl_set_completion_append_character(0)
        }
        return rl_completion_matches(text, generateMatch)
    }

private let generateMatch: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = {
    _, state in
    if state == 0 { completionIndex = 0 }
    guard completionIndex < completionMatches.count else { return nil }
    defer { completionIndex += 1 }
    return strdup(completionMatches[completionIndex])
}

/// GNU readline for the interactive REPL, through its callback interface so that Ctrl-C can clear the line
/// (readline's own signal handling is off; the shell forwards SIGINT with `interrupt()`).
public final class LineEditor: Sendable {
    public enum Result: Sendable, Equatable {
        case line(String)
        case endOfFile
        case interrupted
    }

    public init(completer: Completer) {
        if interruptPipe.read < 0 {
            var fds: [Int32] = [0, 0]
            if pipe(&fds) == 0 {
                _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
                _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
                interruptPipe = (fds[0], fds[1])
            }
        }
        activeCompleter = completer
        if isatty(1) == 0 {
            // Results are redirected: keep the prompt and the echo on the terminal, out of the results.
            tsee_rl_set_outstream(fdopen(2, "w"))
            echoDescriptor = 2
        }
        tsee_rl_set_readline_name(strdup("tsee"))
        tsee_rl_set_catch_signals(0)
        tsee_rl_set_change_environment(0)
        tsee_rl_set_basic_word_break_characters(strdup(" \t\n;"))
        tsee_rl_set_completer_quote_characters(strdup("\"'"))
        tsee_rl_set_completion_query_items(200)
        tsee_rl_set_completion(attemptCompletion)
    }

    /// Reads one line with editing, completion and history search.
    /// - Parameter interruptEnds: Ctrl-C ends the read (a confirmation question) instead of clearing the line.
    public func readLine(prompt: String, interruptEnds: Bool = false) async -> Result {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Self.blockingRead(prompt: prompt, interruptEnds: interruptEnds))
            }
        }
    }

    /// Tells the reading thread that Ctrl-C was pressed. Safe from any thread.
    public func interrupt() {
        var byte: UInt8 = 3
        _ = write(interruptPipe.write, &byte, 1)
    }

    private static func drainInterrupts() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(interruptPipe.read, &buffer, buffer.count) > 0 {}
    }

    private static func blockingRead(prompt: String, interruptEnds: Bool) -> Result {
        drainInterrupts()
        lineFinished = false
        completedLine = nil
        rl_callback_handler_install(prompt, handleLine)
        while !lineFinished {
            var fds = [
                pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
                pollfd(fd: interruptPipe.read, events: Int16(POLLIN), revents: 0),
            ]
            let n = poll(&fds, 2, -1)
            if n < 0 {
                if errno == EINTR { continue }
                break
            }
            if fds[1].revents != 0 {
                drainInterrupts()
                // Abandon the line (and any Ctrl-R search), then show a fresh prompt.
                rl_free_line_state()
                rl_callback_sigcleanup()
                rl_replace_line("", 0)
                tsee_rl_set_point(0)
                writeAll(echoDescriptor, "^C\n")
                if interruptEnds {
                    rl_callback_handler_remove()
                    return .interrupted
                }
                rl_on_new_line()
                rl_redisplay()
                continue
            }
            if fds[0].revents != 0 {
                rl_callback_read_char()
            }
        }
        if !lineFinished {
            rl_callback_handler_remove()
            return .endOfFile
        }
        return completedLine.map(Result.line) ?? .endOfFile
    }
}
