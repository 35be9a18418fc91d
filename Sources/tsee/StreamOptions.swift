import ArgumentParser
import Foundation
import Profiles
import Store
import Stream

/// `--mqtt URL` and its TLS files: the data integration stream, for `run` and `tail`. Flags win over the
/// profile's `mqtt`, `mqtt_cert`, `mqtt_key`, `mqtt_ca` and `mqtt_client_id`.
struct StreamOptions: ParsableArguments {
    @Option(
        name: .customLong("mqtt"),
        help: "The data integration stream: mqtts://HOST:8883 with a client certificate, or mqtt:// to loopback.")
    var url: String?

    @Option(name: .customLong("mqtt-cert"), help: "The client certificate (PEM) for mqtts://.")
    var certificate: String?

    @Option(name: .customLong("mqtt-key"), help: "The client certificate's private key (PEM).")
    var key: String?

    @Option(name: .customLong("mqtt-ca"), help: "The CA (PEM) that signs the broker's certificate (default: the system's).")
    var ca: String?

    @Option(
        name: .customLong("mqtt-topic"),
        help: "A topic filter to subscribe to; repeatable (default: cloudext/json/#, narrowed by the rules' groups).")
    var topics: [String] = []

    @Option(
        name: .customLong("mqtt-client-id"),
        help: "The MQTT client id (default: one derived from the database, the same on every start).")
    var clientID: String?

    /// The stream's settings, or nil when none is configured.
    /// - Parameters:
    ///   - profile: the deployment's profile (ignored for the built-in simulator).
    ///   - stableName: what the default client id is derived from (the database path): the broker keeps the
    ///     persistent session under that id, so it must not change between starts.
    ///   - defaultTopics: the filters when none is given.
    /// - Throws: `ValidationError` with the stream's own reason (a plain URL to another host, a missing file).
    func configuration(profile: Profile?, stableName: String, defaultTopics: [String]) throws -> StreamConfiguration? {
        let environment = ProcessInfo.processInfo.environment
        let expand = { (path: String?) in path.map { Profile.expand($0, environment: environment) } }
        guard let url = url ?? profile?.mqtt else {
            if certificate != nil || key != nil || ca != nil || !topics.isEmpty || clientID != nil {
                throw ValidationError("--mqtt-cert, --mqtt-key, --mqtt-ca, --mqtt-topic and --mqtt-client-id need --mqtt URL")
            }
            return nil
        }
        do {
            return try StreamConfiguration(
                url: url, clientID: clientID ?? profile?.mqttClientID ?? Self.clientID(for: stableName),
                topics: topics.isEmpty ? defaultTopics : topics,
                certificateFile: expand(certificate ?? profile?.mqttCert), keyFile: expand(key ?? profile?.mqttKey),
                caFile: expand(ca ?? profile?.mqttCA))
        } catch let error as StreamError {
            throw ValidationError("--mqtt: \(error.message)")
        }
    }

    /// `tsee-` and 16 hex digits of a stable hash (FNV-1a) of `name`: the same on every start, different per
    /// database, so two deployments on one broker never share a session.
    static func clientID(for name: String) -> String {
        "tsee-" + stableHash(name)
    }

    /// The shared subscription group of the schedulers on one PostgreSQL database: `tsee-` and a stable hash of the
    /// database's host, port and name (not the user: schedulers may log in as different roles). Every process on
    /// that database derives the same name, and another deployment's processes on the same broker another one, so
    /// the broker splits each deployment's stream among its own schedulers only. A database reached under two host
    /// names gives two groups: each then receives every message, which costs CPU but loses nothing (see
    /// docs/scale-out.md); `--mqtt-share-group` names the group explicitly.
    static func shareGroup(for database: PostgresURL) -> String {
        "tsee-" + stableHash("\(database.host.lowercased()):\(database.port)/\(database.database)")
    }

    private static func stableHash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
