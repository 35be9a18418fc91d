/// A gzip stream that is small on the wire and huge once decompressed: `{"data":"xxx…"}` of a chosen size.
///
/// One fixed-Huffman deflate block of back-references (258 bytes each, 13 bits each), so about 160 times
/// smaller than what it inflates to. The middle of the stream repeats a 13-byte unit, so it is sent in chunks
/// without being built; the CRC of the long run is computed by squaring the CRC's affine byte map, not byte by
/// byte. The stream is valid: `gzip -t` accepts it.
struct GzipBomb: Sendable {
    /// The gzip header and the start of the block, up to the first byte boundary inside the back-references.
    let head: [UInt8]
    /// Eight back-references: 104 bits, 13 whole bytes, repeated `units` times.
    let unit: [UInt8]
    let units: Int
    /// The last back-references, the closing literals, the end of the block and the gzip trailer.
    let tail: [UInt8]
    /// What the stream inflates to, in bytes.
    let decompressedSize: Int

    var compressedSize: Int { head.count + unit.count * units + tail.count }

    private static let prefix = Array(#"{"data":""#.utf8)
    private static let suffix = Array(#""}"#.utf8)
    private static let repeated = UInt8(ascii: "x")
    private static let matchLength = 258

    init(decompressedSize target: Int) {
        let fixed = Self.prefix.count + 1 + Self.suffix.count
        let matches = max(0, (target - fixed) / Self.matchLength)
        decompressedSize = fixed + matches * Self.matchLength

        var bits = BitWriter()
        bits.out = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        bits.write(1, count: 1)  // BFINAL
        bits.write(1, count: 2)  // BTYPE 01: fixed Huffman codes
        for byte in Self.prefix + [Self.repeated] { bits.literal(byte) }
        var left = matches
        while left > 0, !bits.isAligned {
            bits.match258()
            left -= 1
        }
        if left >= 8 {
            head = bits.out
            bits = BitWriter()
            var unitBits = BitWriter()
            for _ in 0..<8 { unitBits.match258() }
            unit = unitBits.out
            units = left / 8
            left %= 8
        } else {
            head = []
            unit = []
            units = 0
        }
        for _ in 0..<left { bits.match258() }
        for byte in Self.suffix { bits.literal(byte) }
        bits.huffman(0, length: 7)  // end of block
        bits.flush()
        let crc = CRC32.checksum(
            Self.prefix, run: Self.repeated, count: 1 + matches * Self.matchLength, then: Self.suffix)
        let size = UInt32(truncatingIfNeeded: decompressedSize)
        for value in [crc, size] {
            bits.out += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: value >> $0) }
        }
        // Too small for a repeated middle, the whole stream is the tail.
        tail = bits.out
    }

    /// Deflate's bit order: values least significant bit first, Huffman codes most significant bit first.
    private struct BitWriter {
        var out: [UInt8] = []
        private var buffer: UInt32 = 0
        private var count = 0

        var isAligned: Bool { count == 0 }

        mutating func write(_ value: UInt32, count bits: Int) {
            buffer |= value << count
            count += bits
            while count >= 8 {
                out.append(UInt8(truncatingIfNeeded: buffer))
                buffer >>= 8
                count -= 8
            }
        }

        mutating func huffman(_ code: UInt32, length: Int) {
            var reversed: UInt32 = 0
            for bit in 0..<length where code & (1 << (length - 1 - bit)) != 0 {
                reversed |= 1 << bit
            }
            write(reversed, count: length)
        }

        /// A literal byte below 144: the 8-bit codes 0x30…0xBF.
        mutating func literal(_ byte: UInt8) {
            precondition(byte < 144)
            huffman(0x30 + UInt32(byte), length: 8)
        }

        /// Length 258 (symbol 285, code 0xC5) at distance 1 (distance code 0): repeat the last byte 258 times.
        mutating func match258() {
            huffman(0xC5, length: 8)
            huffman(0, length: 5)
        }

        mutating func flush() {
            if count > 0 { write(0, count: 8 - count) }
        }
    }
}

/// CRC-32 (IEEE, reflected), with a fast path for long runs of one byte.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC of `head`, then `count` times `run`, then `tail`.
    static func checksum(_ head: [UInt8], run: UInt8, count: Int, then tail: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in head { crc = update(crc, byte) }
        crc = Affine.byte(run).power(count).apply(crc)
        for byte in tail { crc = update(crc, byte) }
        return crc ^ 0xFFFF_FFFF
    }

    private static func update(_ crc: UInt32, _ byte: UInt8) -> UInt32 {
        table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }

    /// `c ↦ M·c ⊕ v` over GF(2)³²; one CRC byte step is such a map, because the table is linear.
    private struct Affine {
        /// Column i is the image of bit i.
        var columns: [UInt32]
        var offset: UInt32

        static let identity = Affine(columns: (0..<32).map { 1 << $0 }, offset: 0)

        static func byte(_ byte: UInt8) -> Affine {
            let zeroStep = (0..<32).map { bit -> UInt32 in update(1 << UInt32(bit), 0) }
            return Affine(columns: zeroStep, offset: table[Int(byte)])
        }

        func linear(_ value: UInt32) -> UInt32 {
            var result: UInt32 = 0
            for bit in 0..<32 where value & (1 << UInt32(bit)) != 0 { result ^= columns[bit] }
            return result
        }

        func apply(_ value: UInt32) -> UInt32 { linear(value) ^ offset }

        /// `self` after `first`.
        func after(_ first: Affine) -> Affine {
            Affine(columns: first.columns.map(linear), offset: apply(first.offset))
        }

        func power(_ n: Int) -> Affine {
            var result = Affine.identity
            var base = self
            var n = n
            while n > 0 {
                if n & 1 == 1 { result = base.after(result) }
                base = base.after(base)
                n >>= 1
            }
            return result
        }
    }
}
