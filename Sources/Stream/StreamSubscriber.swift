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
                subscriptions: configuration.subscriptions, reconnectDelay: configuration.reconnectDelay,
                maximumReconnectDelay: configuration.maximumReconnectDelay))
        let translator = EventTranslator(
            events: client.events, topics: configuration.subscriptions, window: configuration.deduplicationWindow)
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
