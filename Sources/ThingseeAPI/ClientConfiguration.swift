import Foundation

/// A secret value (client secret, access token) that never prints itself.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// How retryable failures are retried: bounded exponential backoff with full jitter.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// The longest `Retry-After` honoured; a longer one is cut to this.
    public var maxRetryAfter: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.2, maxDelay: Double = 5, maxRetryAfter: Double = 30) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before attempt `attempt + 1` (attempt counts from 1).
    func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return min(max(retryAfter, 0), maxRetryAfter) }
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
        return Double.random(in: ceiling / 2...ceiling)
    }
}

/// Where the API is and how to log in.
public struct ClientConfiguration: Sendable {
    /// The base URL, normalised without a trailing slash; endpoint paths are appended to its path.
    public let baseURL: URL
    public let clientID: String
    public let clientSecret: Secret
    public var retry: RetryPolicy
    /// The total deadline of one request in seconds, from sending it to the last byte of its body.
    public var timeout: Double
    /// How long a token is assumed to live when it does not say (the API's tokens last 15 minutes).
    public var tokenLifetime: Double
    /// A token is renewed this long before it expires.
    public var tokenRenewalMargin: Double
    /// Requests in flight at once, and the size of the keep-alive connection pool.
    public var concurrency: Int
    /// The largest response body accepted, after decompression.
    public static let maximumBodyBytes = 64 << 20

    /// The scheme, host and port requests go to, e.g. `https://abc.example.com:443`; never followed elsewhere.
    let origin: String
    /// `origin` followed by the base URL's percent-encoded path, without a trailing slash.
    let prefix: String
    /// The host name to connect to (without IPv6 brackets), for diagnostics.
    let host: String
    /// PEM certificates trusted in addition to the system's trust store (tests use a private authority).
    var additionalTrustRoots: [String] = []

    /// - Throws: `ThingseeError.configuration` for a URL that is not absolute, not HTTP(S), or plain HTTP to a host
    ///   that is not a loopback address (a client secret must never cross a network in clear text).
    public init(
        baseURL: String, clientID: String, clientSecret: Secret, retry: RetryPolicy = RetryPolicy(),
        timeout: Double = 30, tokenLifetime: Double = 900, tokenRenewalMargin: Double = 60, concurrency: Int = 8
    ) throws {
        var text = baseURL.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let rawHost = url.host,
            !rawHost.isEmpty
        else {
            throw ThingseeError.configuration(
                "invalid base URL `\(baseURL)`: expected e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1")
        }
        let host = rawHost.hasPrefix("[") && rawHost.hasSuffix("]") ? String(rawHost.dropFirst().dropLast()) : rawHost
        switch scheme {
        case "https": break
        case "http":
            guard Self.isLoopback(host) else {
                throw ThingseeError.configuration(
                    "refusing plain http:// to \(host): it is not a loopback address, and credentials would "
                        + "travel unencrypted; use https://")
            }
        default:
            throw ThingseeError.configuration("invalid base URL `\(baseURL)`: the scheme must be https")
        }
        guard url.user == nil, url.password == nil else {
            throw ThingseeError.configuration("invalid base URL: it must not carry a user name or password")
        }
        guard url.query == nil, url.fragment == nil else {
            throw ThingseeError.configuration("invalid base URL `\(baseURL)`: it must not have a query or fragment")
        }
        guard !clientID.isEmpty else {
            throw ThingseeError.configuration("no client id: set THINGSEE_CLIENT_ID or --client-id")
        }
        guard timeout > 0, timeout.isFinite else {
            throw ThingseeError.configuration("the request timeout must be a positive number of seconds")
        }
        self.baseURL = url
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.retry = retry
        self.timeout = timeout
        self.tokenLifetime = tokenLifetime
        self.tokenRenewalMargin = tokenRenewalMargin
        self.concurrency = max(1, concurrency)
        self.host = host
        let hostPart = host.contains(":") ? "[\(host)]" : host.lowercased()
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        origin = "\(scheme)://\(hostPart):\(port)"
        var path = url.path(percentEncoded: true)
        while path.hasSuffix("/") { path.removeLast() }
        if !path.isEmpty, !path.hasPrefix("/") { path = "/" + path }
        prefix = origin + path
    }

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

    /// A short human name for what this configuration talks to (the host, or host:port).
    public var displayHost: String {
        guard let host = baseURL.host else { return baseURL.absoluteString }
        return baseURL.port.map { "\(host):\($0)" } ?? host
    }
}

/// Numeric IP address parsing, strict: no host name ever parses as an address.
enum IPAddress {
    /// Four decimal numbers 0…255 separated by dots, without leading zeros.
    static func v4(_ text: String) -> [UInt8]? {
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
    static func v6(_ text: String) -> [UInt8]? {
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
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func words(_ part: String) -> [UInt16]? {
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
