import Dispatch
import Foundation

/// Suspends until the process receives SIGINT or SIGTERM.
func waitForTermination() async {
    let signals = [SIGINT, SIGTERM]
    for s in signals { signal(s, SIG_IGN) }
    let queue = DispatchQueue(label: "tsee.signals")
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let sources = signals.map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
        nonisolated(unsafe) var resumed = false  // touched only on `queue`
        for source in sources {
            source.setEventHandler {
                guard !resumed else { return }
                resumed = true
                for s in sources { s.cancel() }
                continuation.resume()
            }
            source.resume()
        }
    }
    for s in signals { signal(s, SIG_DFL) }
}
