import Foundation
import Stream

/// Everything a subscriber reported, collected in the background, with bounded waits for what a test expects.
actor EventLog {
    private(set) var events: [StreamEvent] = []
    init(_ stream: AsyncStream<StreamEvent>) {
        Task { await self.consume(stream) }
    }

    private func consume(_ stream: AsyncStream<StreamEvent>) async {
        for await event in stream { events.append(event) }
    }

    /// The messages delivered so far, in order.
    var messages: [StreamMessage] {
        events.flatMap { event -> [StreamMessage] in
            if case .messages(let batch, _) = event { return batch }
            return []
        }
    }

    var connections: [Bool] {
        events.compactMap { event in
            if case .connected(let present) = event { return present }
            return nil
        }
    }

    var disconnections: [String] {
        events.compactMap { event in
            if case .disconnected(let reason) = event { return reason }
            return nil
        }
    }

    /// The delays of the `reconnecting` events, in order.
    var reconnectDelays: [Duration] {
        events.compactMap { event in
            if case .reconnecting(_, let delay) = event { return delay }
            return nil
        }
    }

    var unusable: [String] {
        events.compactMap { event in
            if case .unusable(let reason, _) = event { return reason }
            return nil
        }
    }

    /// Polls (every 10 ms, at most `timeout`) until the condition holds; returns whether it did.
    func wait(timeout: Duration = .seconds(10), until condition: @Sendable (isolated EventLog) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(self) {
            guard ContinuousClock.now < deadline else {
                print("EventLog: timed out after \(timeout); events so far: \(events)")
                return false
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
