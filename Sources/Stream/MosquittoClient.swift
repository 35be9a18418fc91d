import CMosquitto
import Foundation

/// One libmosquitto client handle and the network thread that drives it.
///
/// The network thread is our own `Thread` running `mosquitto_loop` (rather than `mosquitto_loop_start`), because
/// libmosquitto's built-in thread gives up for good after "fatal" errors such as a failed TLS handshake, and
/// cannot tell anyone when it retries; a long-running consumer needs to reconnect after everything, and to see
/// each attempt.
///
/// `@unchecked Sendable`, safe because:
/// - `handle` is created in `init` and destroyed in `deinit`; the thread holds a strong reference to `self` while
///   it runs, so the handle outlives every use by the thread.
/// - Every call other threads make on the handle while the network thread runs (`mosquitto_publish`,
///   `mosquitto_disconnect`) is one libmosquitto documents as thread-safe once `mosquitto_threaded_set(true)`
///   is on; all other calls on it (`mosquitto_loop`, connect and reconnect) happen on the network thread only.
/// - libmosquitto calls the callbacks on the network thread, inside `mosquitto_loop`. They touch no Swift state:
///   each copies what it was given (topic, payload, codes) into a `MosquittoEvent` value and yields it into an
///   `AsyncStream` continuation, which is thread-safe; `Sinks` holds only that continuation, immutable
///   configuration and a lock-protected flag. Everything else happens in whoever consumes `events`. The one
///   other thing a callback does is a libmosquitto call: the connect callback subscribes, as libmosquitto
///   recommends, with C strings `Sinks` made once and never changes.
/// - `stopRequested`, `started`, `finished` and `finishWaiters` are read and written under `control`'s lock only.
///   The thread waits on the same condition between reconnection attempts, so a stop cuts a back-off short.
final class MosquittoClient: @unchecked Sendable {
    struct Settings: Sendable {
        var host: String
        var port: Int
        var clientID: String
        /// false: a persistent session (MQTT 3.1.1 clean session off, MQTT 5 clean start off).
        var cleanSession: Bool
        var protocolVersion: StreamConfiguration.ProtocolVersion
        /// MQTT 5 session expiry after a disconnect, in seconds.
        var sessionExpirySeconds: UInt32
        var keepalive: Int
        var tls: TLS?
        /// Filters subscribed at QoS 1 after every successful connection.
        var subscriptions: [String]
        var reconnectDelay: Duration
        var maximumReconnectDelay: Duration

        struct TLS: Sendable {
            var caFile: String?
            var certificateFile: String?
            var keyFile: String?
        }
    }

    /// What the callbacks are given as their user data: only thread-safe parts.
    final class Sinks: @unchecked Sendable {
        let continuation: AsyncStream<MosquittoEvent>.Continuation
        let protocolVersion: StreamConfiguration.ProtocolVersion
        /// C copies of the filters, made once, so subscribing from the callback allocates nothing Swift-side.
        let filters: [UnsafeMutablePointer<CChar>?]
        private let lock = NSLock()
        private var connectedSinceAsked = false

        init(
            continuation: AsyncStream<MosquittoEvent>.Continuation,
            protocolVersion: StreamConfiguration.ProtocolVersion, subscriptions: [String]
        ) {
            self.continuation = continuation
            self.protocolVersion = protocolVersion
            filters = subscriptions.map { strdup($0) }
        }

        deinit {
            for filter in filters { free(filter) }
        }

        func markConnected() {
            lock.withLock { connectedSinceAsked = true }
        }

        /// Whether a connection succeeded since the last call (the back-off starts over after one).
        func takeConnected() -> Bool {
            lock.withLock {
                defer { connectedSinceAsked = false }
                return connectedSinceAsked
            }
        }
    }

    let events: AsyncStream<MosquittoEvent>
    private let settings: Settings
    private let sinks: Sinks
    private let handle: OpaquePointer
    private let control = NSCondition()
    private var stopRequested = false
    private var started = false
    private var finished = false
    private var finishWaiters: [CheckedContinuation<Void, Never>] = []

    private static let libraryInitialised: Bool = {
        mosquitto_lib_init()
        return true
    }()

    /// Creates the handle and applies every option; nothing is sent until `start()`.
    /// - Throws: `StreamError` when libmosquitto refuses an option or a TLS file.
    init(settings: Settings) throws {
        _ = Self.libraryInitialised
        self.settings = settings
        let (events, continuation) = AsyncStream.makeStream(of: MosquittoEvent.self, bufferingPolicy: .unbounded)
        self.events = events
        sinks = Sinks(
            continuation: continuation, protocolVersion: settings.protocolVersion,
            subscriptions: settings.subscriptions)
        guard
            let handle = mosquitto_new(
                settings.clientID, settings.cleanSession, Unmanaged.passUnretained(sinks).toOpaque())
        else {
            throw StreamError(.invalidSetting, "libmosquitto could not create a client for id \(settings.clientID)")
        }
        self.handle = handle
        do {
            try configure()
        } catch {
            mosquitto_destroy(handle)
            throw error
        }
    }

    deinit {
        mosquitto_destroy(handle)
        sinks.continuation.finish()
    }

    private func configure() throws {
        try check(mosquitto_threaded_set(handle, true), "switching on thread safety")
        let version = settings.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION, version), "choosing the MQTT version")
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, 1), "setting TCP_NODELAY")
        if let tls = settings.tls {
            // Without a CA file, the system's trust store (AWS IoT's ATS endpoints chain to public roots).
            let code = mosquitto_tls_set(
                handle, tls.caFile, tls.caFile == nil ? "/etc/ssl/certs" : nil, tls.certificateFile, tls.keyFile, nil)
            guard code == mosquittoSuccess else {
                throw StreamError(
                    .tlsFiles,
                    "libmosquitto refused the TLS files (\(describe(code))): check that the certificate, key and CA "
                        + "are readable PEM files")
            }
            if tls.caFile == nil {
                try check(mosquitto_int_option(handle, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "using the system's CAs")
            }
            // 1 = SSL_VERIFY_PEER: the broker's certificate must verify, host name included.
            try check(mosquitto_tls_opts_set(handle, 1, "tlsv1.2", nil), "requiring TLS 1.2 or later")
        }
        mosquitto_connect_v5_callback_set(handle) { handle, user, code, flags, _ in
            let sinks = Unmanaged<Sinks>.fromOpaque(user!).takeUnretainedValue()
            guard code == 0 else {
                let reason =
                    sinks.protocolVersion == .v5
                    ? String(cString: mosquitto_reason_string(code)) : String(cString: mosquitto_connack_string(code))
                sinks.continuation.yield(.refused(reason: reason))
                return
            }
            sinks.markConnected()
            sinks.continuation.yield(.connected(sessionPresent: flags & 1 == 1))
            MosquittoClient.subscribeAll(handle, sinks)
        }
        mosquitto_disconnect_callback_set(handle) { _, user, code in
            let sinks = Unmanaged<Sinks>.fromOpaque(user!).takeUnretainedValue()
            sinks.continuation.yield(.disconnected(reason: code == 0 ? "disconnected by the client" : describe(code)))
        }
        mosquitto_subscribe_callback_set(handle) { _, user, _, count, granted in
            let sinks = Unmanaged<Sinks>.fromOpaque(user!).takeUnretainedValue()
            let values = granted.map { Array(UnsafeBufferPointer(start: $0, count: Int(count))) } ?? []
            sinks.continuation.yield(.subscribed(granted: values))
        }
        mosquitto_publish_callback_set(handle) { _, user, mid in
            let sinks = Unmanaged<Sinks>.fromOpaque(user!).takeUnretainedValue()
            sinks.continuation.yield(.published(mid: mid))
        }
        mosquitto_log_callback_set(handle) { _, user, level, text in
            guard level == MOSQ_LOG_ERR, let user, let text else { return }
            let sinks = Unmanaged<Sinks>.fromOpaque(user).takeUnretainedValue()
            sinks.continuation.yield(.libraryError(String(cString: text)))
        }
        mosquitto_message_callback_set(handle) { _, user, message in
            guard let user, let message else { return }
            let sinks = Unmanaged<Sinks>.fromOpaque(user).takeUnretainedValue()
            let topic = message.pointee.topic.map { String(cString: $0) } ?? ""
            let length = Int(message.pointee.payloadlen)
            let payload =
                length > 0 && message.pointee.payload != nil
                ? Data(bytes: message.pointee.payload, count: length) : Data()
            sinks.continuation.yield(.message(topic: topic, payload: payload))
        }
    }

    /// Subscribes from the connect callback, on the network thread, as libmosquitto recommends: the filters
    /// are then in place before anything else is read from the new connection.
    fileprivate static func subscribeAll(_ handle: OpaquePointer?, _ sinks: Sinks) {
        guard !sinks.filters.isEmpty else { return }
        var filters = sinks.filters
        let code = filters.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: buffer.count) {
                mosquitto_subscribe_multiple(handle, nil, Int32(buffer.count), $0, 1, 0, nil)
            }
        }
        if code != mosquittoSuccess {
            sinks.continuation.yield(.disconnected(reason: "subscribing failed: \(describe(code))"))
        }
    }

    /// Starts the network thread: connect, then read and write until `stop()`, reconnecting with back-off.
    func start() {
        control.lock()
        defer { control.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in run() }
        thread.name = "mosquitto \(settings.clientID)"
        thread.start()
    }

    /// Asks the thread to send DISCONNECT and end; `events` finishes once it has.
    func stop() {
        control.lock()
        let wasStarted = started
        stopRequested = true
        control.broadcast()
        control.unlock()
        if wasStarted {
            mosquitto_disconnect(handle)
        } else {
            sinks.continuation.finish()
        }
    }

    /// Queues a message; libmosquitto sends it now, or after the next (re)connection for QoS 1.
    /// - Returns: the message id its PUBACK will carry.
    func publish(topic: String, payload: Data, qos: Int32) throws -> Int32 {
        var mid: Int32 = 0
        let code = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos, false)
        }
        // QoS 1 while disconnected: libmosquitto has queued the message (and set `mid`) before it found no
        // socket to send it on, and sends it after the next connection; MOSQ_ERR_NO_CONN means just that.
        if qos > 0, code == Int32(MOSQ_ERR_NO_CONN.rawValue) { return mid }
        try check(code, "publishing on \(topic)")
        return mid
    }

    private var isStopping: Bool {
        control.lock()
        defer { control.unlock() }
        return stopRequested
    }

    /// Waits for the delay; true if a stop was asked for meanwhile.
    private func waitOrStop(_ delay: Duration) -> Bool {
        let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
        let deadline = Date().addingTimeInterval(seconds)
        control.lock()
        defer { control.unlock() }
        while !stopRequested, control.wait(until: deadline) {}
        return stopRequested
    }

    private func delay(forAttempt attempt: Int) -> Duration {
        let doubled = settings.reconnectDelay * Int(1 << min(attempt - 1, 20))
        return min(doubled, settings.maximumReconnectDelay)
    }

    private func run() {
        var code = connectFirst()
        if code != mosquittoSuccess {
            sinks.continuation.yield(.disconnected(reason: describe(code)))
        }
        var attempt = 0
        var stopDeadline: ContinuousClock.Instant?
        while true {
            if code == mosquittoSuccess {
                code = mosquitto_loop(handle, 250, 1)
                if code == mosquittoSuccess {
                    // After a stop, the loop ends when DISCONNECT is out and the socket closed, or in 2 s.
                    if isStopping {
                        let deadline = stopDeadline ?? ContinuousClock.now + .seconds(2)
                        stopDeadline = deadline
                        if ContinuousClock.now > deadline { break }
                    }
                    continue
                }
            }
            if isStopping { break }
            if sinks.takeConnected() { attempt = 0 }
            attempt += 1
            let wait = delay(forAttempt: attempt)
            sinks.continuation.yield(.reconnecting(attempt: attempt, delay: wait))
            if waitOrStop(wait) { break }
            code = mosquitto_reconnect_async(handle)
            if code != mosquittoSuccess {
                sinks.continuation.yield(.disconnected(reason: describe(code)))
            }
        }
        sinks.continuation.finish()
        markFinished()
    }

    private func markFinished() {
        control.lock()
        finished = true
        let waiters = finishWaiters
        finishWaiters = []
        control.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the network thread has ended (at once if it never started).
    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            control.lock()
            if finished || !started {
                control.unlock()
                continuation.resume()
            } else {
                finishWaiters.append(continuation)
                control.unlock()
            }
        }
    }

    /// The first connection. MQTT 5 carries the session expiry as a CONNECT property, which only the blocking
    /// `mosquitto_connect_bind_v5` takes (libmosquitto keeps it for every reconnection); MQTT 3.1.1 connects
    /// without blocking.
    private func connectFirst() -> Int32 {
        guard settings.protocolVersion == .v5 else {
            return mosquitto_connect_async(handle, settings.host, Int32(settings.port), Int32(settings.keepalive))
        }
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        let added = mosquitto_property_add_int32(
            &properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), settings.sessionExpirySeconds)
        guard added == mosquittoSuccess else { return added }
        return mosquitto_connect_bind_v5(
            handle, settings.host, Int32(settings.port), Int32(settings.keepalive), nil, properties)
    }

    private func check(_ code: Int32, _ what: String) throws {
        guard code == mosquittoSuccess else {
            throw StreamError(.library(code: code), "libmosquitto failed \(what): \(describe(code))")
        }
    }
}

/// libmosquitto's `MOSQ_ERR_SUCCESS`, as the `Int32` its functions return.
let mosquittoSuccess = Int32(MOSQ_ERR_SUCCESS.rawValue)

/// A libmosquitto error code as words; `MOSQ_ERR_ERRNO` is resolved through `errno`.
func describe(_ code: Int32) -> String {
    if code == Int32(MOSQ_ERR_ERRNO.rawValue) {
        return String(cString: strerror(errno))
    }
    return String(cString: mosquitto_strerror(code))
}
