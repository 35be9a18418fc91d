import Foundation
import Testing

@testable import Stream

@Suite("Stream payload decoding, topics, de-duplication")
struct DecoderTests {
    private func decode(_ text: String, topic: String = sampleTopic) throws -> PayloadDecoder.Decoded {
        try PayloadDecoder.decode(Data(text.utf8), topic: StreamTopic(topic)).get()
    }

    @Test func headerFieldsAreReadTolerantly() throws {
        let text = """
            [{"tsmId":"12100","tsmEv":10.0,"tsmTs":"1700000000","tsmTuid":"TSPD04ABC00000001","nested":{"a":[1,{"b":null}]}},
             {"tsmId":12100,"tsmTs":1700000000123,"tsmTuid":"TSPD04ABC00000001","deploymentGroupId":"prfi00other"},
             {"tsmId":12100,"tsmEv":10,"tsmTs":"2023-11-14T22:13:20Z","tsmTuid":"TSPD04ABC00000001"},
             {"tsmId":12100,"tsmEv":10,"tsmTs":"2023-11-15T00:13:20.5+02:00","tsmTuid":"TSPD04ABC00000001"},
             {"tsmId":12100,"tsmEv":10,"tsmTs":"2023-11-14T22:13:20","tsmTuid":"TSPD\\u0030\\u00344ABC00000001","tsmGw":"g\\"w"}]
            """
        let decoded = try decode(text)
        #expect(decoded.problems == [])
        #expect(decoded.messages.map(\.tsmTs) == Array(repeating: 1_700_000_000, count: 5))
        #expect(decoded.messages.map(\.tsmId) == Array(repeating: 12100, count: 5))
        #expect(decoded.messages[1].tsmEv == 0)
        #expect(decoded.messages[1].deploymentGroupId == "prfi00other")
        #expect(decoded.messages[0].deploymentGroupId == "prfi00testgroup")
        #expect(decoded.messages[4].tsmTuid == "TSPD044ABC00000001")
        #expect(decoded.messages[4].tsmGw == "g\"w")
        // Each message keeps its own bytes, nested values included.
        let first = try JSONSerialization.jsonObject(with: decoded.messages[0].json) as? [String: Any]
        #expect((first?["nested"] as? [String: Any])?["a"] != nil)
    }

    @Test func unusableItemsAreNamedAndTheRestIsKept() throws {
        let text = """
            [1, {"tsmId":1,"tsmTs":1,"tsmTuid":""}, {"tsmTs":1,"tsmTuid":"T"}, {"tsmId":1.5,"tsmTs":1,"tsmTuid":"T"},
             {"tsmId":1,"tsmTs":true,"tsmTuid":"T"}, {"tsmId":1,"tsmTs":1,"tsmTuid":7}, {"tsmId":1,"tsmTs":5,"tsmTuid":"T"}]
            """
        let decoded = try decode(text)
        #expect(decoded.itemCount == 7)
        #expect(decoded.messages.map(\.tsmTs) == [5])
        #expect(
            decoded.problems == [
                "item 0: is not a message object", "item 1: tsmTuid is not a string", "item 2: tsmId is missing",
                "item 3: tsmId is not an integer", "item 4: tsmTs is not a time", "item 5: tsmTuid is not a string",
            ])
    }

    @Test(arguments: [
        "", "   ", "{", "[{}", "{\"a\":}", "{\"a\":1,}", "[1,]", "{\"a\":01}", "{\"a\":\"\\x\"}", "{\"a\":tru}",
        "{} {}", "\"text\"", "null", "{\"a\":\"\u{01}\"}", "{\"a\":-}", "{\"a\":1.}", "{\"a\":1e}",
    ])
    func invalidJSONIsRefusedWhole(_ text: String) {
        #expect(throws: PayloadProblem.self) { try PayloadDecoder.decode(Data(text.utf8), topic: nil).get() }
    }

    @Test func isoTimes() {
        #expect(ISO8601.seconds("1970-01-01T00:00:00Z") == 0)
        #expect(ISO8601.seconds("2000-02-29T12:00:00") == 951_825_600)
        #expect(ISO8601.seconds("2026-12-01T18:00:00-0130") == ISO8601.seconds("2026-12-01T19:30:00Z"))
        #expect(ISO8601.seconds("2026-13-01T18:00:00") == nil)
        #expect(ISO8601.seconds("yesterday") == nil)
        #expect(ISO8601.seconds("2026-12-01T18:00:00Zjunk") == nil)
    }

    @Test func topics() throws {
        let topic = try #require(StreamTopic("cloudext/json/pr/fi/prfi00haltianhq/TSPD04ABC00000001/12100"))
        #expect(
            topic
                == StreamTopic(
                    environment: "pr", country: "fi", groupID: "prfi00haltianhq", tuid: "TSPD04ABC00000001",
                    tsmId: 12100))
        #expect(topic.name == "cloudext/json/pr/fi/prfi00haltianhq/TSPD04ABC00000001/12100")
        #expect(StreamTopic("cloudext/json/pr/fi/group/tuid") == nil)
        #expect(StreamTopic("other/json/pr/fi/g/t/1") == nil)
        #expect(
            StreamTopic.forMessage(groupID: "dmse00demo", tuid: "T", tsmId: 1).name
                == "cloudext/json/dm/se/dmse00demo/T/1")
        // Group ids that do not follow the convention get the production defaults.
        #expect(
            StreamTopic.forMessage(groupID: "cold-chain", tuid: "T", tsmId: 1).name
                == "cloudext/json/pr/fi/cold-chain/T/1")
        #expect(StreamTopic.forMessage(groupID: "PRFI00X", tuid: "T", tsmId: 1).environment == "pr")
        #expect(StreamTopic.forMessage(groupID: "rdde00lab", tuid: "T", tsmId: 1).country == "de")
    }

    @Test func theDeduplicationWindowIsBounded() {
        var window = Deduplicator(capacity: 2)
        let keys = (0..<3).map { MessageKey(tuid: "T", id: 1, event: 10, timestamp: Int64($0)) }
        // keys[2] evicts keys[0], which, older than the window, then passes again.
        let admitted = [keys[0], keys[0], keys[1], keys[2], keys[2], keys[0]].map { window.admit($0) }
        #expect(admitted == [true, false, true, true, false, true])
        #expect(window.count == 2)
    }
}
