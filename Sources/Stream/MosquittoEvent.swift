import Foundation

/// What libmosquitto's callbacks report: plain values copied out of its memory before the callback returns.
enum MosquittoEvent: Sendable {
    /// CONNACK accepted; `refused` when the broker said no.
    case connected(sessionPresent: Bool)
    case refused(reason: String)
    /// A connection attempt that failed, or an established connection that was lost.
    case disconnected(reason: String)
    case reconnecting(attempt: Int, delay: Duration)
    /// SUBACK: the granted QoS per filter, in the order subscribed (0x80 = refused).
    case subscribed(granted: [Int32])
    /// PUBACK for an outgoing QoS 1 message.
    case published(mid: Int32)
    case message(topic: String, payload: Data)
    /// An error line libmosquitto logged (OpenSSL's reason for a failed handshake, say); never key material.
    case libraryError(String)
}
