/// What the subscriber reports, in order, on one `AsyncStream`.
///
/// Connection changes share the stream with the messages, so a consumer sees exactly where a gap may have
/// begun (`disconnected`) and ended (`connected`) relative to the messages it got, and knows when to backfill.
public enum StreamEvent: Sendable, Equatable {
    /// The broker accepted the connection and the topics are being subscribed. `sessionPresent` false after a
    /// disconnect means the broker lost the session and with it any message published meanwhile: backfill.
    case connected(sessionPresent: Bool)
    /// The connection failed or was lost; the subscriber will try again (see `reconnecting`).
    case disconnected(reason: String)
    /// The next connection attempt, after `delay` (doubling per failed attempt, up to the configured maximum).
    case reconnecting(attempt: Int, delay: Duration)
    /// The broker refused some of the topic filters (for example, a policy that does not allow them).
    case subscriptionRefused(topics: [String])
    /// The new messages of one publish, duplicates already dropped; never empty.
    case messages([StreamMessage], topic: String)
    /// A publish, or some items of it, that could not be used: not JSON, not message objects, or messages
    /// without `tsmTuid`, `tsmId` or `tsmTs`. Usable items of the same publish still arrive as `messages`.
    case unusable(reason: String, topic: String)
}
