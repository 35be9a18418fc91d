import Foundation

// The scheduler writes every changed device's saved state each cycle and reads every device's at start. Through
// `JSONEncoder`/`JSONDecoder` that cost a sixth of a 10,000-device cycle's CPU and most of a restart's (a device
// with a day of battery history is thousands of numbers, each one a boxed JSON value). No library writes a
// fixed binary layout of our own types for less, so this is a small hand-written one: fixed-width little-endian
// numbers, lengths as 32 bits, strings as their UTF-8 bytes. Every read is bounds-checked; a row that does not
// decode is reported as `StateBytesError` and the caller starts that device afresh, as with a bad JSON row.

/// Appends values to a byte buffer in the saved-state layout.
public struct StateWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func byte(_ value: UInt8) { bytes.append(value) }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func int64(_ value: Int64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func double(_ value: Double) { int64(Int64(bitPattern: value.bitPattern)) }

    /// A length or count: 32 bits.
    public mutating func count(_ value: Int) {
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// An unsigned number in groups of seven bits, lowest first: below 128 in one byte.
    public mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// A signed number as a varint of its zigzag form: small magnitudes of either sign in few bytes.
    public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public mutating func optional(_ value: Int64?) {
        bool(value != nil)
        if let value { int64(value) }
    }

    public mutating func optional(_ value: Double?) {
        bool(value != nil)
        if let value { double(value) }
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            count(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func optional(_ value: String?) {
        bool(value != nil)
        if let value { string(value) }
    }

    public mutating func strings(_ values: [String]) {
        count(values.count)
        for value in values { string(value) }
    }
}

/// A row that is not in the saved-state layout (cut short, or a length beyond its end).
public struct StateBytesError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads values back in the order a `StateWriter` wrote them.
public struct StateReader {
    private let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    /// Reads `data` (a row's `Data`, or bytes held in memory) with `body`; the reader lives only for the call.
    public static func read<T, Bytes: ContiguousBytes>(_ data: Bytes, _ body: (inout StateReader) throws -> T) throws -> T {
        try data.withUnsafeBytes { raw in
            var reader = StateReader(bytes: raw)
            return try body(&reader)
        }
    }

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ length: Int) throws -> Int {
        guard length >= 0, length <= bytes.count - offset else {
            throw StateBytesError("saved state cut short at byte \(offset) (\(length) more expected)")
        }
        defer { offset += length }
        return offset
    }

    public mutating func byte() throws -> UInt8 { bytes[try take(1)] }

    public mutating func bool() throws -> Bool {
        switch try byte() {
        case 0: return false
        case 1: return true
        case let other: throw StateBytesError("saved state: \(other) at byte \(offset - 1) is not a yes/no")
        }
    }

    public mutating func int64() throws -> Int64 {
        Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8), as: Int64.self))
    }

    public mutating func double() throws -> Double { Double(bitPattern: UInt64(bitPattern: try int64())) }

    /// A count of items at least `itemSize` bytes each: one larger than the rest of the row is refused before
    /// anything is allocated for it.
    public mutating func count(itemSize: Int = 1) throws -> Int {
        let value = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self)))
        guard value <= (bytes.count - offset) / max(itemSize, 1) else {
            throw StateBytesError("saved state: a count of \(value) at byte \(offset - 4) is beyond the row's end")
        }
        return value
    }

    public mutating func optionalInt64() throws -> Int64? { try bool() ? try int64() : nil }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    public mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let part = try byte()
            guard shift <= 63 else { throw StateBytesError("saved state: a number at byte \(offset - 1) runs on") }
            value |= UInt64(part & 0x7F) << shift
            if part < 0x80 { return value }
            shift += 7
        }
    }

    public mutating func signed() throws -> Int64 {
        let zigzag = try varint()
        return Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
    }

    public mutating func optionalDouble() throws -> Double? { try bool() ? try double() : nil }

    public mutating func string() throws -> String {
        let length = try count()
        let start = try take(length)
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]), as: UTF8.self)
    }

    public mutating func optionalString() throws -> String? { try bool() ? try string() : nil }

    public mutating func strings() throws -> [String] {
        let n = try count(itemSize: 4)
        var values: [String] = []
        values.reserveCapacity(n)
        for _ in 0..<n { values.append(try string()) }
        return values
    }
}
