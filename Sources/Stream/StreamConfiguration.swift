import Foundation
import ThingseeKit

/// Where and how to subscribe to the data integration stream.
///
/// `mqtts://host[:port]` (default port 8883) connects with TLS 1.2 or later, normally with a client certificate
/// and key as AWS IoT Core requires; `mqtt://host[:port]` (default port 1883) is refused unless the host is
/// loopback (`127.0.0.0/8`, `::1` or `localhost`), so device data never crosses a network unencrypted.
public struct StreamConfiguration: Sendable, Equatable {
    public enum ProtocolVersion: Sendable, Equatable {
        /// MQTT 3.1.1: a persistent session lives until the broker expires it.
        case v311
        /// MQTT 5: needed for shared subscriptions (`$share/…`); the session lasts `sessionExpiry` after a
        /// disconnect.
        case v5
    }

    /// The broker, as parsed from the URL.
    public struct Broker: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var usesTLS: Bool
    }

    public var broker: Broker
    /// The MQTT client id. It must stay the same across restarts: the broker keeps the persistent session (and
    /// the QoS 1 messages published while the client was away) under it.
    public var clientID: String
    /// Topic filters, subscribed at QoS 1 on every (re)connection (under `$share/…` with a ``shareGroup``).
    public var topics: [String]
    /// With several schedulers sharing a fleet (device leases on PostgreSQL): the MQTT shared subscription group,
    /// so that the broker hands each message to one member of the group rather than to every process. Set by
    /// ``shared(group:)``, which also switches to MQTT 5.
    public private(set) var shareGroup: String?
    /// PEM files: the client certificate, its private key and the CA that signs the broker's certificate. Without
    /// a CA file the system's trust store is used.
    public var certificateFile: String?
    public var keyFile: String?
    public var caFile: String?
    public var protocolVersion: ProtocolVersion
    /// MQTT 5 only: how long the broker keeps the session after a disconnect.
    public var sessionExpiry: Duration
    /// Seconds between keepalive pings (5…65535).
    public var keepalive: Int
    /// Reconnect delays: the first, doubling per failed attempt up to the maximum.
    public var reconnectDelay: Duration
    public var maximumReconnectDelay: Duration
    /// How many recent message keys are remembered to drop duplicates.
    public var deduplicationWindow: Int

    /// The default topic filter: every message of every group the certificate may read.
    public static let defaultTopics = ["cloudext/json/#"]

    /// The filters as subscribed: ``topics``, each as `$share/GROUP/FILTER` when there is a ``shareGroup``.
    public var subscriptions: [String] {
        guard let shareGroup else { return topics }
        return topics.map { "$share/\(shareGroup)/\($0)" }
    }

    /// The same, subscribed as a member of the shared subscription `group` (MQTT 5).
    /// - Throws: `StreamError` with `.invalidSetting` when `group` is empty or holds `/`, `+` or `#`.
    public func shared(group: String) throws -> StreamConfiguration {
        var copy = self
        copy.shareGroup = group
        copy.protocolVersion = .v5
        try copy.validate()
        return copy
    }

    /// Parses the URL and checks the plain-text rule; the rest has defaults.
    /// - Throws: `StreamError` with `.invalidURL`, `.plainTextNotLoopback` or `.invalidSetting`.
    public init(
        url: String, clientID: String, topics: [String] = StreamConfiguration.defaultTopics,
        certificateFile: String? = nil, keyFile: String? = nil, caFile: String? = nil,
        protocolVersion: ProtocolVersion = .v311
    ) throws {
        broker = try Self.parse(url: url)
        self.clientID = clientID
        self.topics = topics
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.caFile = caFile
        self.protocolVersion = protocolVersion
        sessionExpiry = .seconds(86_400)
        keepalive = 30
        reconnectDelay = .milliseconds(500)
        maximumReconnectDelay = .seconds(30)
        deduplicationWindow = 100_000
        try validate()
    }

    /// Checks what can be checked before connecting: the client id, topics, keepalive, and that TLS files are
    /// given in pairs and are readable. A plain URL with TLS files is refused rather than silently ignored.
    func validate() throws {
        guard !clientID.isEmpty, clientID.utf8.count <= 65_535 else {
            throw StreamError(.invalidSetting, "the MQTT client id must not be empty")
        }
        guard !topics.isEmpty else { throw StreamError(.invalidTopic, "no topic to subscribe to") }
        if let shareGroup {
            // MQTT 5, 4.8.2: a share name is at least one character, and holds none of `/`, `+`, `#`.
            guard !shareGroup.isEmpty, !shareGroup.contains(where: { "/+#\u{0}".contains($0) }) else {
                throw StreamError(
                    .invalidSetting, "\"\(shareGroup)\" cannot name a shared subscription: no /, + or #, not empty")
            }
        }
        for topic in topics where !Self.isValidFilter(topic) {
            throw StreamError(.invalidTopic, "\"\(topic)\" is not a valid MQTT topic filter")
        }
        guard (5...65_535).contains(keepalive) else {
            throw StreamError(.invalidSetting, "keepalive must be 5…65535 seconds, not \(keepalive)")
        }
        guard deduplicationWindow >= 0 else {
            throw StreamError(.invalidSetting, "the de-duplication window must not be negative")
        }
        if !broker.usesTLS, !Self.isLoopback(broker.host) {
            throw StreamError(
                .plainTextNotLoopback, "mqtt:// to \(broker.host) is refused: plain text is allowed only to loopback")
        }
        if (certificateFile == nil) != (keyFile == nil) {
            throw StreamError(.tlsFiles, "a client certificate needs its key and a key its certificate; give both")
        }
        if !broker.usesTLS, certificateFile != nil || caFile != nil {
            throw StreamError(.tlsFiles, "certificate files need an mqtts:// URL; mqtt:// is plain text")
        }
        for (role, path) in [("certificate", certificateFile), ("key", keyFile), ("CA", caFile)] {
            guard let path else { continue }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw StreamError(.tlsFiles, "the MQTT \(role) file \(path) does not exist or cannot be read")
            }
        }
    }

    /// `mqtt://host[:port]` or `mqtts://host[:port]`; IPv6 literals in brackets. A path, user or query is refused.
    static func parse(url: String) throws -> Broker {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "mqtt" || scheme == "mqtts"
        else {
            throw StreamError(.invalidURL, "\(url) is not an MQTT URL (mqtts://host:8883 or mqtt://127.0.0.1:1883)")
        }
        guard let rawHost = components.host, !rawHost.isEmpty else {
            throw StreamError(.invalidURL, "\(url) has no host")
        }
        guard components.user == nil, components.password == nil, components.query == nil,
            components.path.isEmpty || components.path == "/"
        else {
            throw StreamError(.invalidURL, "\(url) must be only scheme, host and port (no path, user or query)")
        }
        // URLComponents keeps the brackets of an IPv6 literal on some platforms and strips them on others.
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        let usesTLS = scheme == "mqtts"
        let port = components.port ?? (usesTLS ? 8883 : 1883)
        guard (1...65_535).contains(port) else { throw StreamError(.invalidURL, "\(url) has port \(port)") }
        if !usesTLS, !isLoopback(host) {
            throw StreamError(
                .plainTextNotLoopback,
                "mqtt:// sends device data unencrypted, so it is allowed only to loopback (127.0.0.1, ::1, "
                    + "localhost); \(host) is not: use mqtts:// with a client certificate")
        }
        return Broker(host: host, port: port, usesTLS: usesTLS)
    }

    /// Whether `host` is a loopback address (``NetworkHost/isLoopback(_:)``), without a resolver.
    static func isLoopback(_ host: String) -> Bool { NetworkHost.isLoopback(host) }

    /// MQTT filter rules: non-empty, `#` only as the last level, `+` only as a whole level.
    static func isValidFilter(_ filter: String) -> Bool {
        guard !filter.isEmpty, !filter.utf8.contains(0) else { return false }
        let levels = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (index, level) in levels.enumerated() {
            if level.contains("#"), level != "#" || index != levels.count - 1 { return false }
            if level.contains("+"), level != "+" { return false }
        }
        return true
    }
}
