import Foundation
import Testing

@testable import Simulator

@Suite("JSON serialisation")
struct JSONTests {
    @Test func serialisesCompactlyInKeyOrderWithEscapes() throws {
        let value = JSON.object([
            ("b", .int(-1_234_567_890_123)), ("a", .int(0)), ("max", .int(Int.max)), ("min", .int(Int.min + 1)),
            ("d", .double(21.5)), ("whole", .double(3)), ("nan", .double(.nan)),
            ("s", .string("quote \" backslash \\ newline \n tab \t bell \u{07} ü €")),
            ("list", .array([.null, .bool(true), .bool(false), .array([]), .object([])])),
        ])
        let text = String(decoding: value.encoded(), as: UTF8.self)
        #expect(
            text
                == #"{"b":-1234567890123,"a":0,"max":9223372036854775807,"min":-9223372036854775807,"d":21.5,"whole":3,"nan":null,"s":"quote \" backslash \\ newline \n tab \t bell \u0007 ü €","list":[null,true,false,[],{}]}"#
        )
        let decoded = try #require(try JSONSerialization.jsonObject(with: value.encoded()) as? [String: Any])
        #expect(decoded["s"] as? String == "quote \" backslash \\ newline \n tab \t bell \u{07} ü €")
    }
}
