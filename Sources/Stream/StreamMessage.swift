import Foundation

/// One device message from the stream: the header fields that identify it, and the message object's own JSON.
///
/// The properties are left as JSON text (`json`) on purpose: the consumer reads them with the same tolerant
/// message decoder it uses for REST pages, so a message means the same whichever way it arrived, and this module
/// does not depend on the API client's types.
public struct StreamMessage: Sendable, Equatable {
    public var tsmTuid: String
    public var tsmId: Int
    /// 0 when the message has none, as the REST decoder reads it.
    public var tsmEv: Int
    /// Unix seconds (milliseconds and ISO-8601 strings are converted).
    public var tsmTs: Int64
    public var tsmGw: String?
    public var transactionId: Int?
    /// From the message, or else from its topic.
    public var deploymentGroupId: String?
    /// The message object exactly as received (one element when the payload was an array).
    public var json: Data

    public init(
        tsmTuid: String, tsmId: Int, tsmEv: Int, tsmTs: Int64, tsmGw: String? = nil, transactionId: Int? = nil,
        deploymentGroupId: String? = nil, json: Data
    ) {
        self.tsmTuid = tsmTuid
        self.tsmId = tsmId
        self.tsmEv = tsmEv
        self.tsmTs = tsmTs
        self.tsmGw = tsmGw
        self.transactionId = transactionId
        self.deploymentGroupId = deploymentGroupId
        self.json = json
    }

    /// The key that identifies a message across duplicated deliveries: `tsmTuid:tsmId:tsmEv:tsmTs`, the same as
    /// the REST side's, so a message seen on both counts once.
    public var deduplicationKey: String { "\(tsmTuid):\(tsmId):\(tsmEv):\(tsmTs)" }

    var key: MessageKey { MessageKey(tuid: tsmTuid, id: tsmId, event: tsmEv, timestamp: tsmTs) }
}

/// `deduplicationKey` as a value, cheaper to hash than the string.
struct MessageKey: Hashable, Sendable {
    let tuid: String
    let id: Int
    let event: Int
    let timestamp: Int64
}
