/// A small, fast, seedable pseudo-random generator (SplitMix64), also used as a hash.
///
/// The fleet computes every value from a hash of (seed, device, stream, time), so nothing but the
/// seed and the clock is needed to reproduce a message.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Combines keys into one well-mixed 64-bit value.
    static func hash(_ keys: UInt64...) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for key in keys {
            h = mix(h ^ mix(key &+ 0x9E37_79B9_7F4A_7C15))
        }
        return h
    }

    /// A uniform value in `0..<1` from the given keys.
    static func unit(_ keys: UInt64...) -> Double {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        for key in keys {
            h = mix(h ^ mix(key &+ 0x9E37_79B9_7F4A_7C15))
        }
        return Double(h >> 11) / Double(1 << 53)
    }
}

extension Double {
    /// The time as a hash key; report times are whole seconds.
    var key: UInt64 { UInt64(bitPattern: Int64(self.rounded(.down))) }
}

extension String {
    /// A stable hash key for a short label (FNV-1a), independent of Swift's per-process hash seed.
    var key: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in utf8 {
            h = (h ^ UInt64(byte)) &* 0x100_0000_01B3
        }
        return h
    }
}
