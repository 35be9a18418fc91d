import Foundation
import ThingseeKit

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

    /// Whether `host` is a loopback address (``NetworkHost/isLoopback(_:)``).
    public static func isLoopback(_ host: String) -> Bool { NetworkHost.isLoopback(host) }

    /// A short human name for what this configuration talks to (the host, or host:port).
    public var displayHost: String {
        guard let host = baseURL.host else { return baseURL.absoluteString }
        return baseURL.port.map { "\(host):\($0)" } ?? host
    }
}
