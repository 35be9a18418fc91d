import Foundation

/// Reads one publish (what `StreamSubscriber` does with each; public for tools and tests that have payloads
/// without a broker): a message object or an array of them, tolerantly, as the REST decoder reads a page.
///
/// A byte-level scanner, not `JSONSerialization`: it checks the whole payload is valid JSON, finds each top-level
/// object's bytes, and reads only the header fields; the properties stay as the object's own bytes in
/// `StreamMessage.json`. Tolerated as on the REST side: integers given as decimals or numeric strings, `tsmEv`
/// missing (read as 0), `tsmTs` in seconds, milliseconds or ISO-8601 (UTC without a zone). An item without
/// `tsmTuid` (outgoing command rows carry only `tsmDstTuid`), `tsmId` or `tsmTs` (network-down events) is not
/// usable: it is skipped and named in `problems`, and the rest of the payload is used.
public enum PayloadDecoder {
    public struct Decoded: Sendable, Equatable {
        public var messages: [StreamMessage]
        /// One line per item that could not be used.
        public var problems: [String]
        public var itemCount: Int
    }

    /// Objects nested deeper than this are refused rather than recursed into.
    static let maximumDepth = 64

    /// The usable messages of a payload, or why none of it is usable (not JSON, not an object or array).
    public static func decode(_ payload: Data, topic: StreamTopic?) -> Result<Decoded, PayloadProblem> {
        payload.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var scanner = Scanner(bytes: bytes)
            do throws(PayloadProblem) {
                let decoded = try scanner.payload(source: payload, topic: topic)
                return .success(decoded)
            } catch {
                return .failure(error)
            }
        }
    }
}

/// Why a payload could not be read at all.
public struct PayloadProblem: Error, Sendable, Equatable {
    public let reason: String
}

/// A header value as found: only strings and numbers matter; anything else is `.other`.
private enum HeaderValue {
    case string(String)
    case integer(Int64)
    case decimal(Double)
    case other
}

private struct Scanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func payload(source: Data, topic: StreamTopic?) throws(PayloadProblem) -> PayloadDecoder.Decoded {
        skipWhitespace()
        guard index < bytes.count else { throw PayloadProblem(reason: "empty payload") }
        var decoded = PayloadDecoder.Decoded(messages: [], problems: [], itemCount: 0)
        switch bytes[index] {
        case UInt8(ascii: "{"):
            let item = try messageObject(source: source, topic: topic, depth: 1)
            decoded.itemCount = 1
            record(item, position: nil, into: &decoded)
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek() == UInt8(ascii: "]") {
                index += 1
            } else {
                var position = 0
                while true {
                    skipWhitespace()
                    let item: Result<StreamMessage, PayloadProblem>
                    if peek() == UInt8(ascii: "{") {
                        item = try messageObject(source: source, topic: topic, depth: 2)
                    } else {
                        try skipValue(depth: 2)
                        item = .failure(PayloadProblem(reason: "is not a message object"))
                    }
                    record(item, position: position, into: &decoded)
                    position += 1
                    skipWhitespace()
                    guard let next = take() else { throw problem("the array is not closed") }
                    if next == UInt8(ascii: "]") { break }
                    guard next == UInt8(ascii: ",") else { throw problem("expected , or ] in the array") }
                }
                decoded.itemCount = position
            }
            guard decoded.itemCount > 0 else { throw PayloadProblem(reason: "an empty array of messages") }
        default:
            throw problem("the payload is not a JSON object or array")
        }
        skipWhitespace()
        guard index == bytes.count else { throw problem("unexpected text after the JSON value") }
        return decoded
    }

    private func record(
        _ item: Result<StreamMessage, PayloadProblem>, position: Int?, into decoded: inout PayloadDecoder.Decoded
    ) {
        switch item {
        case .success(let message): decoded.messages.append(message)
        case .failure(let failure):
            decoded.problems.append(position.map { "item \($0): \(failure.reason)" } ?? failure.reason)
        }
    }

    /// One message object: syntax errors throw (they spoil the whole payload); a missing header field is an
    /// unusable item, returned as a failure.
    private mutating func messageObject(source: Data, topic: StreamTopic?, depth: Int) throws(PayloadProblem)
        -> Result<StreamMessage, PayloadProblem>
    {
        let start = index
        index += 1
        var tuid: HeaderValue?
        var id: HeaderValue?
        var event: HeaderValue?
        var time: HeaderValue?
        var gateway: HeaderValue?
        var transaction: HeaderValue?
        var group: HeaderValue?
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                skipWhitespace()
                guard peek() == UInt8(ascii: "\"") else { throw problem("expected a key in an object") }
                let key = try stringBytes()
                skipWhitespace()
                guard take() == UInt8(ascii: ":") else { throw problem("expected : after a key") }
                skipWhitespace()
                switch HeaderKey(key, in: bytes) {
                case .tsmTuid: tuid = try headerValue(depth: depth)
                case .tsmId: id = try headerValue(depth: depth)
                case .tsmEv: event = try headerValue(depth: depth)
                case .tsmTs: time = try headerValue(depth: depth)
                case .tsmGw: gateway = try headerValue(depth: depth)
                case .transactionId: transaction = try headerValue(depth: depth)
                case .deploymentGroupId: group = try headerValue(depth: depth)
                case nil: try skipValue(depth: depth)
                }
                skipWhitespace()
                guard let next = take() else { throw problem("an object is not closed") }
                if next == UInt8(ascii: "}") { break }
                guard next == UInt8(ascii: ",") else { throw problem("expected , or } in an object") }
            }
        }
        let json = source.subdata(in: source.startIndex + start..<source.startIndex + index)

        guard case .string(let tsmTuid)? = tuid, !tsmTuid.isEmpty else {
            return .failure(PayloadProblem(reason: tuid == nil ? "tsmTuid is missing" : "tsmTuid is not a string"))
        }
        guard let idValue = id else { return .failure(PayloadProblem(reason: "tsmId is missing")) }
        guard let tsmId = Self.integer(idValue) else {
            return .failure(PayloadProblem(reason: "tsmId is not an integer"))
        }
        guard let timeValue = time else { return .failure(PayloadProblem(reason: "tsmTs is missing")) }
        guard let tsmTs = Self.seconds(timeValue) else {
            return .failure(PayloadProblem(reason: "tsmTs is not a time"))
        }
        return .success(
            StreamMessage(
                tsmTuid: tsmTuid, tsmId: tsmId, tsmEv: event.flatMap(Self.integer) ?? 0, tsmTs: tsmTs,
                tsmGw: gateway.flatMap(Self.string), transactionId: transaction.flatMap(Self.integer),
                deploymentGroupId: group.flatMap(Self.string) ?? topic?.groupID, json: json))
    }

    // MARK: Header values

    private static func integer(_ value: HeaderValue) -> Int? {
        switch value {
        case .integer(let i): return Int(exactly: i)
        case .decimal(let d): return d == d.rounded() && abs(d) < 9e15 ? Int(d) : nil
        case .string(let s): return Int(s.trimmingCharacters(in: .whitespaces))
        case .other: return nil
        }
    }

    private static func string(_ value: HeaderValue) -> String? {
        if case .string(let s) = value { return s }
        return nil
    }

    /// Unix seconds from seconds or milliseconds (≥ 10¹² is read as milliseconds), a numeric string, or ISO-8601.
    private static func seconds(_ value: HeaderValue) -> Int64? {
        func fromNumber(_ d: Double) -> Int64? {
            guard d.isFinite, abs(d) < 9e15 else { return nil }
            return Int64(d >= 1e12 ? d / 1000 : d)
        }
        switch value {
        case .integer(let i): return i >= 1_000_000_000_000 ? i / 1000 : i
        case .decimal(let d): return fromNumber(d)
        case .string(let s):
            if let d = Double(s) { return fromNumber(d) }
            return ISO8601.seconds(s)
        case .other: return nil
        }
    }

    private mutating func headerValue(depth: Int) throws(PayloadProblem) -> HeaderValue {
        guard let first = peek() else { throw problem("a value is missing") }
        switch first {
        case UInt8(ascii: "\""):
            let range = try stringBytes()
            return .string(decodeString(range))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            try skipValue(depth: depth)
            return .other
        }
    }

    // MARK: JSON grammar

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func take() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private func problem(_ what: String) -> PayloadProblem {
        PayloadProblem(reason: "not valid JSON: \(what) at byte \(index)")
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0a, 0x0d: index += 1
            default: return
            }
        }
    }

    private mutating func skipValue(depth: Int) throws(PayloadProblem) {
        guard depth < PayloadDecoder.maximumDepth else { throw problem("nested too deeply") }
        guard let first = peek() else { throw problem("a value is missing") }
        switch first {
        case UInt8(ascii: "\""): _ = try stringBytes()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = first == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            index += 1
            skipWhitespace()
            if peek() == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if first == UInt8(ascii: "{") {
                    guard peek() == UInt8(ascii: "\"") else { throw problem("expected a key in an object") }
                    _ = try stringBytes()
                    skipWhitespace()
                    guard take() == UInt8(ascii: ":") else { throw problem("expected : after a key") }
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard let next = take() else { throw problem("a value is not closed") }
                if next == close { return }
                guard next == UInt8(ascii: ",") else { throw problem("expected , between values") }
            }
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try number()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: throw problem("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(PayloadProblem) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw problem("unexpected end") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw problem("unexpected character")
        }
        index += count
    }

    /// A string's content range (between the quotes), escapes checked but not decoded.
    private mutating func stringBytes() throws(PayloadProblem) -> Range<Int> {
        index += 1
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                defer { index += 1 }
                return start..<index
            case UInt8(ascii: "\\"):
                index += 1
                guard let escaped = take() else { throw problem("a string is not closed") }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count, (0..<4).allSatisfy({ Self.hexValue(bytes[index + $0]) != nil })
                    else { throw problem("a bad \\u escape") }
                    index += 4
                default: throw problem("a bad escape")
                }
            case 0..<0x20: throw problem("a control character in a string")
            default: index += 1
            }
        }
        throw problem("a string is not closed")
    }

    /// The string's value; escapes decoded only when there are any.
    private func decodeString(_ range: Range<Int>) -> String {
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        guard slice.contains(UInt8(ascii: "\\")) else { return String(decoding: slice, as: UTF8.self) }
        var scalars = String.UnicodeScalarView()
        var out: [UInt8] = []
        var i = range.lowerBound
        func flush() {
            scalars.append(contentsOf: String(decoding: out, as: UTF8.self).unicodeScalars)
            out.removeAll(keepingCapacity: true)
        }
        while i < range.upperBound {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            let escaped = bytes[i + 1]
            i += 2
            switch escaped {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code: UInt32 = 0
                for offset in 0..<4 { code = code << 4 | UInt32(Self.hexValue(bytes[i + offset])!) }
                i += 4
                // A surrogate pair's second half follows as another \u escape.
                if (0xD800..<0xDC00).contains(code), i + 6 <= range.upperBound, bytes[i] == UInt8(ascii: "\\"),
                    bytes[i + 1] == UInt8(ascii: "u"),
                    (0..<4).allSatisfy({ Self.hexValue(bytes[i + 2 + $0]) != nil })
                {
                    var low: UInt32 = 0
                    for offset in 0..<4 { low = low << 4 | UInt32(Self.hexValue(bytes[i + 2 + offset])!) }
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: out.append(escaped)
            }
        }
        flush()
        return String(scalars)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A JSON number; integers without fraction or exponent are read exactly.
    private mutating func number() throws(PayloadProblem) -> HeaderValue {
        let start = index
        if peek() == UInt8(ascii: "-") { index += 1 }
        guard let first = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw problem("a bad number")
        }
        var isInteger = true
        var magnitude: Int64 = 0
        var overflow = false
        if first == UInt8(ascii: "0") {
            index += 1
        } else {
            while let digit = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) {
                let (times, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = sum
                index += 1
            }
        }
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard try digits() > 0 else { throw problem("a bad number") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard try digits() > 0 else { throw problem("a bad number") }
        }
        if isInteger, !overflow {
            return .integer(bytes[start] == UInt8(ascii: "-") ? -magnitude : magnitude)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return Double(text).map(HeaderValue.decimal) ?? .other
    }

    private mutating func digits() throws(PayloadProblem) -> Int {
        var count = 0
        while let digit = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) {
            index += 1
            count += 1
        }
        return count
    }
}

/// The header keys the decoder reads, recognised from a key's bytes without making a `String`.
private enum HeaderKey {
    case tsmTuid, tsmId, tsmEv, tsmTs, tsmGw, transactionId, deploymentGroupId

    init?(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) {
        let key = UnsafeBufferPointer(rebasing: bytes[range])
        func equals(_ name: StaticString) -> Bool {
            name.utf8CodeUnitCount == key.count
                && UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount).elementsEqual(key)
        }
        switch key.count {
        case 5:
            if equals("tsmId") {
                self = .tsmId
            } else if equals("tsmEv") {
                self = .tsmEv
            } else if equals("tsmTs") {
                self = .tsmTs
            } else if equals("tsmGw") {
                self = .tsmGw
            } else {
                return nil
            }
        case 7 where equals("tsmTuid"): self = .tsmTuid
        case 13 where equals("transactionId"): self = .transactionId
        case 17 where equals("deploymentGroupId"): self = .deploymentGroupId
        default: return nil
        }
    }
}
