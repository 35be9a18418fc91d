import Foundation
import Testing

@testable import ThingseeAPI

/// `JSONValue.parse` reads what Foundation's decoder reads, the same way, and refuses what it refuses.
@Suite struct JSONParserTests {
    func foundation(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test func aRepeatedKeyKeepsItsLastValue() throws {
        let value = try JSONValue.parse(Data(#"{"a":1,"b":{"a":2,"a":3},"a":4}"#.utf8))
        #expect(value == .object(["a": .number(4), "b": .object(["a": .number(3)])]))
    }

    @Test(arguments: [
        #"{"data":[{"tsmId":12100,"tsmEv":10,"tsmTs":1700000000,"temp":-4.25,"humd":81.5,"airp":101325.3}]}"#,
        #"[1, -0, 0.1, 1e3, 1.5E-7, 123456789012345678, 9007199254740993, -2.5e+300]"#,
        #"{"a": "tab\tquote\" slash\/ back\\ nl\n", "u": "\u00e9\u20ac \ud83d\ude00 °C", "e": ""}"#,
        #"  {"nested": {"list": [true, false, null, [], {}]}}  "#,
        // Objects inside objects inside lists, members before and after them: each object keeps its own.
        #"{"a":1,"o":{"b":2,"p":{"c":3},"d":[{"e":4},{"f":5,"g":{}}]},"h":6}"#,
        #""just a string""#, "42", "null",
    ])
    func parsesLikeFoundation(_ text: String) throws {
        #expect(try JSONValue.parse(Data(text.utf8)) == foundation(text))
    }

    @Test(arguments: [
        "", "{", #"{"a":1"#, #"{"a" 1}"#, "[1,]", "[1 2]", "01", "1.", "-", "1e", "tru", #""\x""#, "\"a\nb\"",
        #""unterminated"#, "{} {}", "[" + String(repeating: "[", count: 600),
    ])
    func refusesMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Data(text.utf8)) }
    }
}
