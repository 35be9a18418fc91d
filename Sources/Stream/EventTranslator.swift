import Foundation

/// Turns libmosquitto's raw events into `StreamEvent`s: decoding, de-duplication, counters.
///
/// `@unchecked Sendable`, safe because `next()` is called from one task only (the subscriber's translating
/// task), one call at a time, so `iterator`, `deduplicator` and `pending` are never touched concurrently;
/// `counters` is also read from other tasks, and sits behind `lock`.
final class EventTranslator: @unchecked Sendable {
    private var iterator: AsyncStream<MosquittoEvent>.AsyncIterator
    private var deduplicator: Deduplicator
    private let topics: [String]
    /// Events made from one raw event and not yet handed out (an `unusable` and a `messages` from one publish).
    private var pending: [StreamEvent] = []
    private let lock = NSLock()
    private var counters = StreamStatistics()
    /// libmosquitto's error lines since the last disconnection, added to the next one's reason.
    private var libraryErrors: [String] = []

    init(events: AsyncStream<MosquittoEvent>, topics: [String], window: Int) {
        iterator = events.makeAsyncIterator()
        deduplicator = Deduplicator(capacity: window)
        self.topics = topics
    }

    var statistics: StreamStatistics {
        lock.withLock { counters }
    }

    func next() async -> StreamEvent? {
        while pending.isEmpty {
            guard let raw = await iterator.next() else { return nil }
            translate(raw)
        }
        return pending.removeFirst()
    }

    private func translate(_ event: MosquittoEvent) {
        switch event {
        case .connected(let sessionPresent):
            lock.withLock { counters.connections += 1 }
            pending.append(.connected(sessionPresent: sessionPresent))
        case .refused(let reason):
            pending.append(.disconnected(reason: "the broker refused the connection: \(reason)"))
        case .disconnected(let reason):
            let details = libraryErrors.isEmpty ? "" : " (\(libraryErrors.joined(separator: "; ")))"
            libraryErrors = []
            pending.append(.disconnected(reason: reason + details))
        case .libraryError(let line):
            if libraryErrors.count < 5 { libraryErrors.append(line) }
        case .reconnecting(let attempt, let delay):
            pending.append(.reconnecting(attempt: attempt, delay: delay))
        case .subscribed(let granted):
            // SUBACK codes above 2 (0x80 and the MQTT 5 reason codes) are refusals.
            let refused = zip(topics, granted).filter { $0.1 > 2 }.map(\.0)
            if !refused.isEmpty { pending.append(.subscriptionRefused(topics: refused)) }
        case .published:
            break
        case .message(let topic, let payload):
            receive(topic: topic, payload: payload)
        }
    }

    /// Decodes and de-duplicates one publish.
    private func receive(topic: String, payload: Data) {
        switch PayloadDecoder.decode(payload, topic: StreamTopic(topic)) {
        case .failure(let problem):
            lock.withLock {
                counters.publishes += 1
                counters.unusable += 1
            }
            pending.append(.unusable(reason: problem.reason, topic: topic))
        case .success(let decoded):
            if !decoded.problems.isEmpty {
                let summary =
                    decoded.itemCount == 1
                    ? decoded.problems[0]
                    : "\(decoded.problems.count) of \(decoded.itemCount) messages unusable: "
                        + decoded.problems.joined(separator: "; ")
                pending.append(.unusable(reason: summary, topic: topic))
            }
            let fresh = decoded.messages.filter { deduplicator.admit($0.key) }
            lock.withLock {
                counters.publishes += 1
                counters.unusable += decoded.problems.count
                counters.duplicates += decoded.messages.count - fresh.count
                counters.messages += fresh.count
            }
            if !fresh.isEmpty { pending.append(.messages(fresh, topic: topic)) }
        }
    }
}
