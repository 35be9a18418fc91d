import CoreMetrics
import Foundation
import Logging
import Stream
import Synchronization
import ThingseeAPI

/// The data integration stream as the scheduler's source of messages (`tsee run --mqtt`).
///
/// It consumes the subscriber's events on one task of its own and keeps, under a lock, what the scheduler asks
/// about between its steps: whether the stream is up, whether the gap since the last connection has been
/// backfilled from the REST API, and the messages received and not yet evaluated, per device. libmosquitto's
/// thread never reaches this type: the subscriber's translating task yields events into an `AsyncStream`, and
/// only this type's consuming task reads that.
///
/// The life of a connection: `connected` opens a new *generation* whose gap is not yet backfilled, and wakes
/// the scheduler, which runs a cycle that polls every device's messages from its cursor; only when that cycle
/// succeeded for every device (`backfilled(generation:)`) do the messages of the stream count, and from then on
/// messages are not polled. Until then — and after a `disconnected` — the scheduler polls as without a stream,
/// and whatever the stream brings meanwhile waits here, to be admitted (and de-duplicated against the polls,
/// see ``DeviceSnapshot/admit(_:overlap:)``) once the next backfill is done.
public final class StreamSource: Sendable {
    public let configuration: StreamConfiguration
    private let subscriber: StreamSubscriber
    private let logger: Logger
    private let state = Mutex(State())

    /// What is waiting beyond this many messages is dropped (and said so): the REST backfill after the next
    /// connection reads it again from each device's cursor.
    static let maximumPending = 1_000_000

    private struct State {
        var connected = false
        /// One per `connected` event.
        var generation = 0
        /// The generation whose gap a cycle has backfilled; the stream counts while it equals `generation`.
        var backfilled: Int?
        /// Received and not yet evaluated, per device, in arrival order.
        var pending: [String: [ThingseeAPI.Message]] = [:]
        var pendingCount = 0
        var received = 0
        var unusable = 0
        var wake: (@Sendable () -> Void)?
        /// `wake` was called and the scheduler has not looked since: one call per look, not one per publish.
        var signalled = false
        var consumer: Task<Void, Never>?
        var started = false
    }

    public init(configuration: StreamConfiguration, logger: Logger = Logger(label: "tsee.stream")) {
        self.configuration = configuration
        self.subscriber = StreamSubscriber(configuration: configuration)
        self.logger = logger
    }

    /// The default topic filters for a set of rules: `cloudext/json/+/+/GROUP/#` per group when every rule in
    /// force is scoped to groups, per device (`cloudext/json/+/+/+/TUID/#`) for rules scoped to devices only, and
    /// everything (`cloudext/json/#`) as soon as one rule applies to every device.
    public static func topics(groups: [[String]], tuids: [[String]]) -> [String] {
        var filters: [String] = []
        for (ruleGroups, ruleTUIDs) in zip(groups, tuids) {
            if !ruleGroups.isEmpty {
                filters += ruleGroups.map { "cloudext/json/+/+/\($0)/#" }
            } else if !ruleTUIDs.isEmpty {
                filters += ruleTUIDs.map { "cloudext/json/+/+/+/\($0)/#" }
            } else {
                return StreamConfiguration.defaultTopics
            }
        }
        var seen: Set<String> = []
        let unique = filters.filter { seen.insert($0).inserted }
        return unique.isEmpty ? StreamConfiguration.defaultTopics : unique
    }

    /// Connects in the background; `wake` is called (from the consuming task) whenever there is something for
    /// the scheduler to do: a connection to backfill, or messages to evaluate. Calling it again does nothing.
    /// - Throws: `StreamError` when the subscriber refuses its settings (files, topics).
    func start(wake: @escaping @Sendable () -> Void) async throws {
        guard state.withLock({ s in
            defer { s.started = true }
            s.wake = wake
            return !s.started
        })
        else { return }
        let events = try await subscriber.start()
        let consumer = Task.detached { [self] in
            for await event in events { self.handle(event) }
        }
        state.withLock { $0.consumer = consumer }
    }

    /// Disconnects (the broker keeps the session) and waits until the last event has been consumed.
    func stop() async {
        await subscriber.stop()
        let consumer = state.withLock { $0.consumer }
        await consumer?.value
        setConnected(false)
    }

    private func handle(_ event: StreamEvent) {
        switch event {
        case .connected(let sessionPresent):
            let generation = state.withLock { s in
                s.connected = true
                s.generation += 1
                return s.generation
            }
            setConnected(true)
            logger.notice(
                "stream connected; backfilling from the REST API before its messages count",
                metadata: [
                    "event": "stream-connected", "broker": "\(configuration.broker.host):\(configuration.broker.port)",
                    "session": "\(sessionPresent ? "resumed" : "new")", "generation": "\(generation)",
                ])
            notify()
        case .disconnected(let reason):
            state.withLock { $0.connected = false }
            setConnected(false)
            logger.warning(
                "stream disconnected; polling messages until it is back",
                metadata: ["event": "stream-disconnected", "reason": "\(reason)"])
            notify()
        case .reconnecting(let attempt, let delay):
            logger.info(
                "stream reconnecting",
                metadata: ["event": "stream-reconnecting", "attempt": "\(attempt)", "delay": "\(delay)"])
        case .subscriptionRefused(let topics):
            logger.error(
                "the broker refused the subscription; those topics bring nothing",
                metadata: ["event": "stream-subscription-refused", "topics": "\(topics.joined(separator: " "))"])
        case .unusable(let reason, let topic):
            state.withLock { $0.unusable += 1 }
            logger.warning(
                "unusable stream payload skipped",
                metadata: ["event": "stream-unusable", "reason": "\(reason)", "topic": "\(topic)"])
        case .messages(let batch, let topic):
            var decoded: [ThingseeAPI.Message] = []
            decoded.reserveCapacity(batch.count)
            for item in batch {
                do {
                    if let message = try ThingseeAPI.Message.decode(json: item.json) {
                        decoded.append(message)
                    } else {
                        state.withLock { $0.unusable += 1 }
                    }
                } catch {
                    state.withLock { $0.unusable += 1 }
                    logger.warning(
                        "unusable stream message skipped",
                        metadata: ["event": "stream-unusable", "reason": "\(error)", "topic": "\(topic)"])
                }
            }
            guard !decoded.isEmpty else { return }
            let dropped = state.withLock { s -> Int in
                s.received += decoded.count
                for message in decoded { s.pending[message.tsmTuid, default: []].append(message) }
                s.pendingCount += decoded.count
                guard s.pendingCount > Self.maximumPending else { return 0 }
                // Only while not backfilled can this much wait; the next backfill reads it from the REST API.
                let count = s.pendingCount
                s.pending = [:]
                s.pendingCount = 0
                return count
            }
            if dropped > 0 {
                logger.warning(
                    "too many stream messages waiting for a backfill; dropped, the backfill reads them",
                    metadata: ["event": "stream-overflow", "dropped": "\(dropped)"])
            }
            notify()
        }
    }

    private func notify() {
        state.withLock { s -> (@Sendable () -> Void)? in
            guard !s.signalled else { return nil }
            s.signalled = true
            return s.wake
        }?()
    }

    /// The scheduler is about to look at the state: the next change wakes it again.
    func looking() {
        state.withLock { $0.signalled = false }
    }

    private func setConnected(_ up: Bool) {
        Gauge(label: "tsee_stream_connected").record(up ? 1 : 0)
    }

    // MARK: - What the scheduler asks

    /// Whether this process is one member of a shared subscription: the broker hands each message to one member
    /// only, so the other members' share of the devices this process holds must come from the REST API, and the
    /// cycles go on polling messages while the stream is up.
    var isShared: Bool { configuration.shareGroup != nil }

    /// Whether the stream is up and its gap backfilled: messages are then not polled.
    var isLive: Bool {
        state.withLock { $0.connected && $0.backfilled == $0.generation }
    }

    var isConnected: Bool { state.withLock { $0.connected } }

    /// The generation of a connection whose gap is not backfilled yet, if the stream is up.
    var generationToBackfill: Int? {
        state.withLock { s in s.connected && s.backfilled != s.generation ? s.generation : nil }
    }

    /// A cycle that began while `generation` was current has polled every device's messages: the gap is closed,
    /// and the stream counts, unless the connection was lost (or made again) meanwhile.
    func backfilled(generation: Int) {
        let live = state.withLock { s -> Bool in
            guard s.connected, s.generation == generation else { return false }
            s.backfilled = generation
            return true
        }
        if live {
            logger.notice(
                "backfill done; the stream's messages count, and messages are no longer polled",
                metadata: ["event": "stream-live", "generation": "\(generation)"])
        }
    }

    /// Whether messages wait and count: the scheduler should evaluate them.
    var hasWork: Bool {
        state.withLock { $0.connected && $0.backfilled == $0.generation && $0.pendingCount > 0 }
    }

    /// Everything waiting, per device, when the stream counts; nothing otherwise (it keeps waiting).
    func take() -> [String: [ThingseeAPI.Message]] {
        state.withLock { s in
            guard s.connected, s.backfilled == s.generation, s.pendingCount > 0 else { return [:] }
            defer {
                s.pending = [:]
                s.pendingCount = 0
            }
            return s.pending
        }
    }

    /// After `stop()`: everything waiting, if the last connection's gap was backfilled (the messages counted);
    /// nothing otherwise — the next start's backfill reads those from the REST API.
    func drain() -> [String: [ThingseeAPI.Message]] {
        state.withLock { s in
            guard s.backfilled == s.generation, s.pendingCount > 0 else { return [:] }
            defer {
                s.pending = [:]
                s.pendingCount = 0
            }
            return s.pending
        }
    }

    /// Messages that were taken but could not be written (a locked database): evaluated again with the next batch.
    func putBack(_ messages: [String: [ThingseeAPI.Message]]) {
        state.withLock { s in
            for (tuid, list) in messages where !list.isEmpty {
                s.pending[tuid] = list + (s.pending[tuid] ?? [])
                s.pendingCount += list.count
            }
        }
    }

    /// Messages received since the start, and items that could not be used.
    public var counts: (received: Int, unusable: Int) {
        state.withLock { ($0.received, $0.unusable) }
    }
}
