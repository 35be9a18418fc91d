import Foundation
import NIOCore

/// A JSON value with ordered object keys, so responses read like the API document.
enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])
    /// Serialised JSON, written as it is (a messages page, written without building its tree).
    case raw([UInt8])

    static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.raw(a), .raw(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value for a key of an object, or nil.
    subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The numeric value, if this is a number (or a boolean, read as 0/1).
    var number: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .double(let value): return value
        case .bool(let value): return value ? 1 : 0
        default: return nil
        }
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// Serialises compactly, keeping object keys in order.
    func encoded() -> Data {
        var out: [UInt8] = []
        write(to: &out)
        return Data(out)
    }

    /// The same serialisation, as a response body.
    func buffer() -> ByteBuffer {
        var out: [UInt8] = []
        out.reserveCapacity(1_024)
        write(to: &out)
        return ByteBuffer(bytes: out)
    }

    // Bytes, not a String: appending to a String re-checks its UTF-8 and counts at every step, which made
    // serialising most of the cost of a messages page.
    func write(to out: inout [UInt8]) {
        switch self {
        case .null: Self.append("null", to: &out)
        case .bool(let value): Self.append(value ? "true" : "false", to: &out)
        case .int(let value): Self.writeInteger(value, to: &out)
        case .double(let value):
            if !value.isFinite {
                Self.append("null", to: &out)
            } else if value == value.rounded() && abs(value) < 1e15 {
                Self.writeInteger(Int(value), to: &out)
            } else if Self.writeHundredths(value, to: &out) {
                return
            } else {
                Self.append(value.description, to: &out)
            }
        case .string(let value): Self.writeString(value, to: &out)
        case .raw(let bytes): out.append(contentsOf: bytes)
        case .array(let values):
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                value.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let pairs):
            out.append(UInt8(ascii: "{"))
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(pair.0, to: &out)
                out.append(UInt8(ascii: ":"))
                pair.1.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }

    static func writeInteger(_ value: Int, to out: inout [UInt8]) {
        guard value != 0 else {
            out.append(UInt8(ascii: "0"))
            return
        }
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[23 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            out.append(contentsOf: buffer[(24 - count)...])
        }
    }

    /// Writes a value with at most two decimals (the readings' `round(_, 2)`) as `description` would, without the
    /// String `description` makes; false, writing nothing, for any other value.
    ///
    /// Below 1e9 the spacing of doubles is far finer than 0.01, so when `k / 100` is the value, its decimal digits,
    /// trailing zeros dropped, are the shortest that read back as it: `description`'s choice. (Checked against
    /// `description` on millions of random values; `description` was 1.2 % of the CPU of a messages request.)
    private static func writeHundredths(_ value: Double, to out: inout [UInt8]) -> Bool {
        guard abs(value) < 1e9 else { return false }
        let scaled = (value * 100).rounded()
        guard scaled / 100 == value else { return false }
        var hundredths = Int(scaled)
        if hundredths < 0 {
            out.append(UInt8(ascii: "-"))
            hundredths = -hundredths
        }
        writeInteger(hundredths / 100, to: &out)
        let fraction = hundredths % 100
        guard fraction != 0 else { return true }
        out.append(UInt8(ascii: "."))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 10))
        if fraction % 10 != 0 { out.append(UInt8(ascii: "0") + UInt8(fraction % 10)) }
        return true
    }

    static func writeString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { bytes in
            // Keys, TUIDs and most values need no escaping: appended whole.
            guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): append("\\\"", to: &out)
                case UInt8(ascii: "\\"): append("\\\\", to: &out)
                case UInt8(ascii: "\n"): append("\\n", to: &out)
                case UInt8(ascii: "\r"): append("\\r", to: &out)
                case UInt8(ascii: "\t"): append("\\t", to: &out)
                case let control where control < 0x20: append(String(format: "\\u%04x", control), to: &out)
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Parses a request body; nil when it is not valid JSON.
    static func parse(_ data: Data) -> JSON? {
        guard let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return nil
        }
        return JSON(foundation: object)
    }

    private init(foundation object: Any) {
        switch object {
        case let value as String:
            self = .string(value)
        case let value as [Any]:
            self = .array(value.map(JSON.init(foundation:)))
        case let value as [String: Any]:
            self = .object(value.keys.sorted().map { ($0, JSON(foundation: value[$0]!)) })
        case let value as NSNumber:
            if type(of: object) == Bool.self || String(cString: value.objCType) == "c" {
                self = .bool(value.boolValue)
            } else {
                let double = value.doubleValue
                if double == double.rounded(), abs(double) < 9e15 {
                    self = .int(Int(double))
                } else {
                    self = .double(double)
                }
            }
        default:
            self = .null
        }
    }
}

/// Writes JSON objects and arrays straight into bytes, separating members with commas as it goes.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if let last = bytes.last, last != UInt8(ascii: "{"), last != UInt8(ascii: "[") {
            bytes.append(UInt8(ascii: ","))
        }
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
    }

    mutating func endArray() { bytes.append(UInt8(ascii: "]")) }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func endObject() { bytes.append(UInt8(ascii: "}")) }

    private mutating func key(_ key: String) {
        separate()
        JSON.writeString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A key known to need no escaping, copied as it is.
    private mutating func key(_ key: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func field(fixed name: StaticString, _ value: Int) {
        key(name)
        JSON.writeInteger(value, to: &bytes)
    }

    mutating func field(fixed name: StaticString, _ value: String) {
        key(name)
        JSON.writeString(value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: Int) {
        key(name)
        JSON.writeInteger(value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: String) {
        key(name)
        JSON.writeString(value, to: &bytes)
    }

    mutating func field(_ name: String, _ value: JSON) {
        key(name)
        value.write(to: &bytes)
    }
}
