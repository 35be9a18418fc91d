import Foundation

extension Message {
    /// Reads one message object that did not come in a REST page (the data integration stream), with the same
    /// tolerant reader as a page's items, so a message means the same whichever way it arrived.
    ///
    /// - Returns: nil for an item a client cannot use (no `tsmTuid`, a network-down event without `tsmTs`).
    /// - Throws: ``JSONParseError`` for text that is not JSON, ``ThingseeError`` (decoding) for an object that is
    ///   not a message.
    public static func decode(json: Data, source: String = "stream") throws -> Message? {
        try PayloadReader(endpoint: source).message(try JSONValue.parse(json), index: 0)
    }
}
