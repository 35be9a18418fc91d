import Foundation
import REPL

/// Suspends until the process receives SIGINT or SIGTERM.
func waitForTermination() async {
    await Signals.wait(for: [SIGINT, SIGTERM])
}
