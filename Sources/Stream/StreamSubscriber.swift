import Foundation

/// The data integration stream: one MQTT connection, its messages decoded and de-duplicated, and its connection
/// changes, all as one ordered `AsyncStream` of `StreamEvent`s.
///
/// QoS 1 on a persistent session under the caller's stable client id: while the subscriber is away (a broker
/// restart, a network cut, the process stopped), the broker keeps what is published, and delivers it after
/// the next connection. Reconnects by itself with doubling delays until `stop()`.
///
/// libmosquitto acknowledges a message once it has been handed over, so a message the consumer has not yet
/// processed when the process dies is not redelivered: the consumer's REST backfill from its own cursor after
/// a start is what closes that gap (as after any disconnect whose `connected` event says the session was lost).
///
/// An actor for starting and stopping. libmosquitto's network thread hands raw events to one translating task
/// (see `EventTranslator`), which decodes, de-duplicates and yields into the returned stream; a consumer on an
/// actor then takes whatever is buffered without an executor hop per event.
public actor StreamSubscriber {
    public nonisolated let configuration: StreamConfiguration
    private var client: MosquittoClient?
    private var translator: EventTranslator?
    private var translation: Task<Void, Never>?

    public init(configuration: StreamConfiguration) {
        self.configuration = configuration
    }

    deinit {
        // The network thread keeps its client alive; without this, a subscriber dropped unstopped stays connected.
        client?.stop()
    }

    /// Counters since `start()`, counting what the consumer has taken from the stream.
    public var statistics: StreamStatistics {
        translator?.statistics ?? StreamStatistics()
    }

    /// Connects in the background and returns the events; call once. Iterate the stream from one task.
    /// - Throws: `StreamError` when the settings or TLS files are refused; connection failures are events.
    public func start() throws -> AsyncStream<StreamEvent> {
        guard client == nil, translator == nil else {
            throw StreamError(.invalidSetting, "the stream subscriber is already started")
        }
        try configuration.validate()
        let broker = configuration.broker
        let client = try MosquittoClient(
            settings: MosquittoClient.Settings(
                host: broker.host, port: broker.port, clientID: configuration.clientID, cleanSession: false,
                protocolVersion: configuration.protocolVersion,
                sessionExpirySeconds: UInt32(clamping: configuration.sessionExpiry.components.seconds),
                keepalive: configuration.keepalive,
                tls: broker.usesTLS
                    ? MosquittoClient.Settings.TLS(
                        caFile: configuration.caFile, certificateFile: configuration.certificateFile,
                        keyFile: configuration.keyFile) : nil,
                subscriptions: configuration.topics, reconnectDelay: configuration.reconnectDelay,
                maximumReconnectDelay: configuration.maximumReconnectDelay))
        let translator = EventTranslator(
            events: client.events, topics: configuration.topics, window: configuration.deduplicationWindow)
        self.client = client
        self.translator = translator
        let (events, output) = AsyncStream.makeStream(of: StreamEvent.self, bufferingPolicy: .unbounded)
        // Not isolated to this actor: translating never waits for start() or stop().
        translation = Task.detached {
            while let event = await translator.next() { output.yield(event) }
            output.finish()
        }
        client.start()
        return events
    }

    /// Sends DISCONNECT (the broker keeps the session) and waits until the connection is closed; the event
    /// stream ends after its last event.
    public func stop() async {
        guard let client else { return }
        client.stop()
        await client.waitUntilFinished()
        await translation?.value
        self.client = nil
        translation = nil
    }
}

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
