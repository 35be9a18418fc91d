/// Why the stream could not be set up: a bad URL, a refused plain connection, unreadable TLS files, or
/// libmosquitto refusing an option.
///
/// Connection failures after start are not errors: they are `StreamEvent.disconnected` events, and the
/// subscriber keeps reconnecting.
public struct StreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The URL is not `mqtt://host[:port]` or `mqtts://host[:port]`.
        case invalidURL
        /// Plain `mqtt://` to a host that is not loopback: the data would cross a network unencrypted.
        case plainTextNotLoopback
        /// A certificate, key or CA file is missing, unreadable, or only half of a certificate/key pair was given.
        case tlsFiles
        /// A topic filter libmosquitto would refuse.
        case invalidTopic
        /// Any other setting out of range (client id, keepalive, …).
        case invalidSetting
        /// libmosquitto refused a call; `code` is its `MOSQ_ERR_*` value.
        case library(code: Int32)
    }

    public var kind: Kind
    /// What was tried and what happened, for a person; never the contents of a key file.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
