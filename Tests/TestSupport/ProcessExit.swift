import Dispatch
import Foundation
import Synchronization

/// The exit status of a child process, awaited without spinning.
///
/// Foundation's `Process.waitUntilExit()` on Linux runs the calling thread's run loop until the child ends, and a
/// thread with no run-loop sources returns from it at once: the wait becomes a busy loop that holds a core for as
/// long as the child runs. On a two-core machine two such waits starve every other test (the simulators in the test
/// process stop answering), so tests wait here instead: the status arrives through `terminationHandler`, which is
/// installed before the process starts so an early exit cannot be missed.
public final class ProcessExit: Sendable {
    private struct State {
        var status: Int32?
        var waiters: [Int: CheckedContinuation<Int32?, Never>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())
    private let exited = DispatchSemaphore(value: 0)

    /// Installs the termination handler; call before `process.run()`.
    public init(_ process: Process) {
        process.terminationHandler = { [self] ended in finish(ended.terminationStatus) }
    }

    private func finish(_ status: Int32) {
        let waiters = state.withLock { state in
            state.status = status
            defer { state.waiters = [:] }
            return state.waiters
        }
        exited.signal()
        for waiter in waiters.values { waiter.resume(returning: status) }
    }

    /// The exit status, once the process has ended.
    public func status() async -> Int32 {
        // Without a limit the wait ends only with the process.
        await status(within: nil) ?? -1
    }

    /// The exit status, or nil when `limit` passed first (the process may still run, or have exited unreaped).
    public func status(within limit: Duration?) async -> Int32? {
        await withCheckedContinuation { continuation in
            let waiter = state.withLock { state -> Int? in
                if state.status != nil { return nil }
                defer { state.nextWaiter += 1 }
                state.waiters[state.nextWaiter] = continuation
                return state.nextWaiter
            }
            guard let waiter else {
                continuation.resume(returning: state.withLock { $0.status })
                return
            }
            guard let limit else { return }
            Task {
                try? await Task.sleep(for: limit)
                state.withLock { $0.waiters.removeValue(forKey: waiter) }?.resume(returning: nil)
            }
        }
    }

    /// Blocks the calling thread (sleeping, not spinning) until the process has ended; for synchronous helpers.
    public func wait() -> Int32 {
        if let status = state.withLock({ $0.status }) { return status }
        exited.wait()
        exited.signal()
        return state.withLock { $0.status ?? -1 }
    }
}
