import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// The write end of the self-pipe: set once, before any handler is installed, then only read (by the
// async-signal-safe C handler, which may run on any thread).
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

private let forwardSignal: @convention(c) (Int32) -> Void = { signal in
    var byte = UInt8(truncatingIfNeeded: signal)
    _ = write(signalPipeWrite, &byte, 1)
}

/// Signal handling that works whatever disposition the process inherited (a background job starts with SIGINT
/// ignored): a plain `sigaction` handler writes the signal number to a pipe, and a thread calls the Swift
/// handler registered for it.
public enum Signals {
    private static let handlers = Mutex<[Int32: @Sendable (Int32) -> Void]>([:])
    private static let started = Mutex(false)

    /// Calls `handler` (on a background thread) each time `signal` arrives; `nil` restores the default action.
    public static func setHandler(_ signal: Int32, _ handler: (@Sendable (Int32) -> Void)?) {
        startIfNeeded()
        handlers.withLock { $0[signal] = handler }
        var action = sigaction()
        if handler != nil {
            action.__sigaction_handler.sa_handler = forwardSignal
        } else {
            action.__sigaction_handler.sa_handler = SIG_DFL
        }
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(signal, &action, nil)
    }

    /// Suspends until one of `signals` arrives (or the task is cancelled), then restores their default actions.
    public static func wait(for signals: [Int32]) async {
        let gate = Mutex<(continuation: CheckedContinuation<Void, Never>?, done: Bool)>((nil, false))
        let finish: @Sendable () -> Void = {
            let c = gate.withLock { g -> CheckedContinuation<Void, Never>? in
                defer { g = (nil, true) }
                return g.continuation
            }
            c?.resume()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let alreadyDone = gate.withLock { g in
                    if !g.done { g.continuation = continuation }
                    return g.done
                }
                if alreadyDone { continuation.resume() }
                for s in signals { setHandler(s) { _ in finish() } }
            }
        } onCancel: {
            finish()
        }
        for s in signals { setHandler(s, nil) }
    }

    private static func startIfNeeded() {
        let readEnd = started.withLock { started -> Int32? in
            guard !started else { return nil }
            started = true
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { return nil }
            signalPipeWrite = fds[1]
            return fds[0]
        }
        guard let readEnd else { return }
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                let signal = Int32(byte)
                if let handler = handlers.withLock({ $0[signal] }) { handler(signal) }
            }
        }
    }
}
