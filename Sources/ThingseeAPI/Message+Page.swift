import Foundation

extension Message {
    /// Decodes a `GET /things/{tuid}/messages` response body (`{"data": […]}`) the way the client does:
    /// `JSONValue.parse`, then the tolerant message reader, skipping unusable items. For imports, tools and
    /// benchmarks.
    public static func decodePage(_ body: Data) throws -> [Message] {
        let reader = PayloadReader(endpoint: "GET /things/{tuid}/messages")
        let json = try JSONValue.parse(body)
        guard let object = json.objectValue else { return try reader.messagesSkippingUnusable(json).messages }
        guard let data = object["data"] else { throw reader.fail("data", "is missing") }
        return try reader.messagesSkippingUnusable(data).messages
    }
}
