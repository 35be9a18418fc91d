/// Host names and addresses as tsee checks them before it connects: parsed, never resolved.
public enum NetworkHost {
    /// Whether `host` is a loopback address: `localhost`, an IPv4 address in 127.0.0.0/8 written as four decimal
    /// numbers, or the IPv6 loopback `::1` (also IPv4-mapped 127.0.0.0/8). Names that merely begin like one
    /// (`127.0.0.1.example.com`, `localhost.example.com`) are not.
    public static func isLoopback(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h == "localhost" { return true }
        if let v4 = IPAddress.v4(h) { return v4[0] == 127 }
        if let v6 = IPAddress.v6(h) {
            if v6 == [UInt8](repeating: 0, count: 15) + [1] { return true }
            let mapped = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]
            return Array(v6.prefix(12)) == mapped && v6[12] == 127
        }
        return false
    }
}

/// Numeric IP address parsing, strict: no host name ever parses as an address.
public enum IPAddress {
    /// Four decimal numbers 0…255 separated by dots, without leading zeros.
    public static func v4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                part == "0" || !part.hasPrefix("0"), let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// An IPv6 address in any of its textual forms (`::1`, `0:0:0:0:0:0:0:1`, `::ffff:127.0.0.1`), as 16 bytes.
    public static func v6(_ text: String) -> [UInt8]? {
        var body = Substring(text)
        var trailing: [UInt16] = []
        if body.contains(".") {
            // An embedded IPv4 address in the last 32 bits (`::ffff:127.0.0.1`).
            guard let colon = body.lastIndex(of: ":"), let v4 = v4(String(body[body.index(after: colon)...]))
            else { return nil }
            trailing = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
            let cut = body[..<colon]
            body = cut.hasSuffix(":") ? body[...colon] : cut
        }
        return v6Words(body, trailing: trailing)
    }

    private static func v6Words(_ text: Substring, trailing: [UInt16]) -> [UInt8]? {
        var head: [UInt16] = []
        let halves = text.split(separator: "::", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { return nil }
        func words(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            for group in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(group.count), let w = UInt16(group, radix: 16) else { return nil }
                result.append(w)
            }
            return result
        }
        guard let first = words(halves[0]) else { return nil }
        head = first
        if halves.count == 2 {
            guard let second = words(halves[1]) else { return nil }
            let tail = second + trailing
            guard head.count + tail.count <= 7 else { return nil }
            head += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            head += trailing
            guard head.count == 8 else { return nil }
        }
        return head.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
