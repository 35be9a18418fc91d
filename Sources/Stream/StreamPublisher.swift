import Foundation

/// Publishes JSON payloads at QoS 1 on one MQTT connection: the simulator's side of the data integration.
///
/// Messages published while the connection is down are queued by libmosquitto and sent after it reconnects.
/// An actor: the set of messages awaiting their PUBACK and the waiters are touched only on it.
public actor StreamPublisher {
    public nonisolated let configuration: StreamConfiguration
    /// Messages queued and not yet acknowledged by the broker.
    public var unacknowledged: Int { pending.count }
    /// Messages the broker has acknowledged.
    public private(set) var acknowledged = 0
    public private(set) var isConnected = false
    private var client: MosquittoClient?
    private var pump: Task<Void, Never>?
    private var pending: Set<Int32> = []
    private var waiters: [UUID: (Awaited, CheckedContinuation<Bool, Never>)] = [:]

    /// `configuration.topics` is not used; the session is clean (a publisher has nothing to resume).
    public init(configuration: StreamConfiguration) {
        self.configuration = configuration
    }

    deinit {
        client?.stop()
    }

    /// Connects in the background; `waitUntilConnected` tells when it is up.
    /// - Throws: `StreamError` when the settings or TLS files are refused.
    public func start() throws {
        guard client == nil else { return }
        try configuration.validate()
        let broker = configuration.broker
        let client = try MosquittoClient(
            settings: MosquittoClient.Settings(
                host: broker.host, port: broker.port, clientID: configuration.clientID, cleanSession: true,
                protocolVersion: configuration.protocolVersion, sessionExpirySeconds: 0,
                keepalive: configuration.keepalive,
                tls: broker.usesTLS
                    ? MosquittoClient.Settings.TLS(
                        caFile: configuration.caFile, certificateFile: configuration.certificateFile,
                        keyFile: configuration.keyFile) : nil,
                subscriptions: [], reconnectDelay: configuration.reconnectDelay,
                maximumReconnectDelay: configuration.maximumReconnectDelay))
        self.client = client
        pump = Task { [weak self, events = client.events] in
            for await event in events {
                guard let self else { return }
                await self.handle(event)
            }
            await self?.connectionEnded()
        }
        client.start()
    }

    /// Queues one message at QoS 1 (not retained).
    /// - Throws: `StreamError` when not started or when libmosquitto refuses it (an invalid topic, say).
    public func publish(topic: String, payload: Data) throws {
        guard let client else { throw StreamError(.invalidSetting, "the stream publisher is not started") }
        let mid = try client.publish(topic: topic, payload: payload, qos: 1)
        pending.insert(mid)
    }

    /// Waits until the broker has acknowledged every message queued so far; false after `timeout`.
    public func waitUntilDelivered(timeout: Duration) async -> Bool {
        guard !pending.isEmpty else { return true }
        return await wait(for: .delivery, timeout: timeout)
    }

    /// Waits until connected; false after `timeout`.
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        guard !isConnected else { return true }
        return await wait(for: .connection, timeout: timeout)
    }

    /// Disconnects; messages not yet sent are dropped.
    public func stop() async {
        guard let client else { return }
        client.stop()
        await pump?.value
        self.client = nil
        pump = nil
    }

    private enum Awaited {
        case delivery, connection
    }

    private func wait(for awaited: Awaited, timeout: Duration) async -> Bool {
        let id = UUID()
        return await withCheckedContinuation { continuation in
            waiters[id] = (awaited, continuation)
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        waiters.removeValue(forKey: id)?.1.resume(returning: false)
    }

    private func resumeAll(_ awaited: Awaited, with value: Bool) {
        for (id, waiter) in waiters where waiter.0 == awaited {
            waiters[id] = nil
            waiter.1.resume(returning: value)
        }
    }

    private func handle(_ event: MosquittoEvent) {
        switch event {
        case .connected:
            isConnected = true
            resumeAll(.connection, with: true)
        case .disconnected, .refused:
            isConnected = false
        case .published(let mid):
            if pending.remove(mid) != nil { acknowledged += 1 }
            if pending.isEmpty { resumeAll(.delivery, with: true) }
        case .reconnecting, .subscribed, .message, .libraryError:
            break
        }
    }

    private func connectionEnded() {
        isConnected = false
        resumeAll(.connection, with: false)
        resumeAll(.delivery, with: pending.isEmpty)
    }
}
