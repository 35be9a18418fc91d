import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where commands write: standard output for results, standard error for diagnostics.
public struct Console: Sendable {
    /// Whether standard output is a terminal (tables, colour, redrawing).
    public var isTerminal: Bool
    /// Whether standard error is a terminal (progress bars).
    public var errorIsTerminal: Bool
    /// Whether to use ANSI colour: only on a terminal and never with `NO_COLOR`.
    public var colour: Bool
    /// The terminal's width in columns (80 when unknown).
    public var width: Int
    private let writeOut: @Sendable (String) -> Void
    private let writeErr: @Sendable (String) -> Void

    public init(
        isTerminal: Bool, colour: Bool, width: Int = 80, errorIsTerminal: Bool = false,
        out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void
    ) {
        self.isTerminal = isTerminal
        self.errorIsTerminal = errorIsTerminal
        self.colour = colour
        self.width = width
        self.writeOut = out
        self.writeErr = err
    }

    public func out(_ text: String) { writeOut(text) }
    public func err(_ text: String) { writeErr(text) }

    /// The process's own standard output and error.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> Console {
        let tty = isatty(1) == 1
        var size = winsize()
        let width = tty && ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 ? Int(size.ws_col) : 80
        let noColour = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return Console(
            isTerminal: tty, colour: tty && !noColour && environment["TERM"] != "dumb", width: width,
            errorIsTerminal: isatty(2) == 1, out: { writeAll(1, $0) }, err: { writeAll(2, $0) })
    }

    /// A console that keeps what is written, for tests.
    public static func capturing(isTerminal: Bool = false, errorIsTerminal: Bool = false) -> (
        Console, CapturedOutput
    ) {
        let captured = CapturedOutput()
        let console = Console(
            isTerminal: isTerminal, colour: false, errorIsTerminal: errorIsTerminal, out: { captured.append(out: $0) },
            err: { captured.append(err: $0) })
        return (console, captured)
    }

    /// `text` in bold, red, … when colour is on.
    public func style(_ text: String, _ code: String) -> String {
        colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
}

/// Text written to a capturing console.
public final class CapturedOutput: Sendable {
    private let state = Mutex<(out: String, err: String)>(("", ""))
    public init() {}
    public var out: String { state.withLock { $0.out } }
    public var err: String { state.withLock { $0.err } }
    /// Forgets what was written so far.
    public func clear() { state.withLock { $0 = ("", "") } }
    func append(out text: String) { state.withLock { $0.out += text } }
    func append(err text: String) { state.withLock { $0.err += text } }
}

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return
        }
        bytes = bytes.dropFirst(n)
    }
}
