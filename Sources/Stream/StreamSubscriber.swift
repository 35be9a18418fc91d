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
/// An actor: the de-duplication window and the counters are touched only on it. Events from libmosquitto's
/// network thread reach it through an `AsyncStream` (see `MosquittoClient`).
public actor StreamSubscriber {
    public nonisolated let configuration: StreamConfiguration
    /// Counters since `start()`.
    public private(set) var statistics = StreamStatistics()
    private var client: MosquittoClient?
    private var pump: Task<Void, Never>?
    private var deduplicator: Deduplicator
    private var output: AsyncStream<StreamEvent>.Continuation?

    public init(configuration: StreamConfiguration) {
        self.configuration = configuration
        deduplicator = Deduplicator(capacity: configuration.deduplicationWindow)
    }

    /// Connects in the background and returns the events; call once.
    /// - Throws: `StreamError` when the settings or TLS files are refused; connection failures are events.
    public func start() throws -> AsyncStream<StreamEvent> {
        guard client == nil else {
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
        self.client = client
        let (events, continuation) = AsyncStream.makeStream(of: StreamEvent.self, bufferingPolicy: .unbounded)
        output = continuation
        pump = Task { [weak self, events = client.events] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
            await self?.finish()
        }
        client.start()
        return events
    }

    /// Sends DISCONNECT (the broker keeps the session) and ends the event stream once the connection is closed.
    public func stop() async {
        guard let client else { return }
        client.stop()
        await pump?.value
        self.client = nil
        pump = nil
    }

    private func finish() {
        output?.finish()
        output = nil
    }

    private func handle(_ event: MosquittoEvent) {
        guard let output else { return }
        switch event {
        case .connected(let sessionPresent):
            statistics.connections += 1
            output.yield(.connected(sessionPresent: sessionPresent))
        case .refused(let reason):
            output.yield(.disconnected(reason: "the broker refused the connection: \(reason)"))
        case .disconnected(let reason):
            output.yield(.disconnected(reason: reason))
        case .reconnecting(let attempt, let delay):
            output.yield(.reconnecting(attempt: attempt, delay: delay))
        case .subscribed(let granted):
            let refused = zip(configuration.topics, granted).filter { $0.1 > 2 }.map(\.0)
            if !refused.isEmpty { output.yield(.subscriptionRefused(topics: refused)) }
        case .published:
            break
        case .message(let topic, let payload):
            for event in receive(topic: topic, payload: payload) { output.yield(event) }
        }
    }

    /// Decodes and de-duplicates one publish.
    func receive(topic: String, payload: Data) -> [StreamEvent] {
        statistics.publishes += 1
        switch PayloadDecoder.decode(payload, topic: StreamTopic(topic)) {
        case .failure(let problem):
            statistics.unusable += 1
            return [.unusable(reason: problem.reason, topic: topic)]
        case .success(let decoded):
            var events: [StreamEvent] = []
            if !decoded.problems.isEmpty {
                statistics.unusable += decoded.problems.count
                let summary =
                    decoded.itemCount == 1
                    ? decoded.problems[0]
                    : "\(decoded.problems.count) of \(decoded.itemCount) messages unusable: "
                        + decoded.problems.joined(separator: "; ")
                events.append(.unusable(reason: summary, topic: topic))
            }
            let fresh = decoded.messages.filter { deduplicator.admit($0.key) }
            statistics.duplicates += decoded.messages.count - fresh.count
            statistics.messages += fresh.count
            if !fresh.isEmpty { events.append(.messages(fresh, topic: topic)) }
            return events
        }
    }
}
