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

    static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.double(a), .double(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
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
        var out = ""
        write(to: &out)
        return Data(out.utf8)
    }

    /// The same serialisation, as a response body.
    func buffer() -> ByteBuffer {
        var out = ""
        out.reserveCapacity(256)
        write(to: &out)
        return ByteBuffer(string: out)
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
            if value.isFinite {
                out += value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
            } else {
                out += "null"
            }
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let pairs):
            out += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { out += "," }
                Self.writeString(pair.0, to: &out)
                out += ":"
                pair.1.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where s.value < 0x20:
                out += String(format: "\\u%04x", s.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
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
