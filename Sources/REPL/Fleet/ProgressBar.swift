import Foundation
import Synchronization

/// A one-line progress bar on standard error, drawn only when standard error is a terminal.
///
/// Redrawn at most every 100 ms (and always at the start and the end), then erased, so the results on standard
/// output are never mixed with it.
public final class ProgressBar: Sendable {
    private let label: String
    private let total: Int
    private let write: (@Sendable (String) -> Void)?
    private let width: Int
    private let state = Mutex<(done: Int, extra: String, drawnAt: ContinuousClock.Instant?, finished: Bool)>(
        (0, "", nil, false))

    /// - Parameter write: where frames go; `nil` draws nothing (standard error is not a terminal).
    public init(label: String, total: Int, width: Int = 80, write: (@Sendable (String) -> Void)?) {
        self.label = label
        self.total = total
        self.width = width
        self.write = write
        draw(force: true)
    }

    /// Counts `count` more items done; `extra` is shown after the count (`12,345 messages`).
    public func advance(by count: Int = 1, extra: String? = nil) {
        state.withLock { s in
            s.done += count
            if let extra { s.extra = extra }
        }
        draw(force: false)
    }

    /// Draws the final frame and erases the line (once; also when the bar is dropped, as on Ctrl-C).
    public func finish() {
        draw(force: true)
        let first = state.withLock { s in
            defer { s.finished = true }
            return !s.finished
        }
        if first { write?("\r\u{1B}[K") }
    }

    deinit { finish() }

    /// The text of one frame: `things [#########.........]  412/1000 devices`.
    static func frame(label: String, done: Int, total: Int, extra: String, width: Int) -> String {
        let count = "\(done)/\(total)"
        let tail = extra.isEmpty ? "" : "  " + extra
        let barWidth = max(10, min(40, width - label.count - count.count - tail.count - 6))
        let filled = total > 0 ? min(barWidth, done * barWidth / total) : barWidth
        return label + " [" + String(repeating: "#", count: filled)
            + String(repeating: ".", count: barWidth - filled) + "] " + count + tail
    }

    private func draw(force: Bool) {
        guard let write else { return }
        let text: String? = state.withLock { s in
            let now = ContinuousClock.now
            if s.finished { return nil }
            if !force, let at = s.drawnAt, now - at < .milliseconds(100) { return nil }
            s.drawnAt = now
            return Self.frame(label: label, done: s.done, total: total, extra: s.extra, width: width)
        }
        if let text { write("\r" + text + "\u{1B}[K") }
    }
}
