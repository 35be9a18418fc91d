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
    /// Per-request timeout in seconds.
    public var timeout: Double
    /// How long a token is assumed to live when it does not say (the API's tokens last 15 minutes).
    public var tokenLifetime: Double
    /// A token is renewed this long before it expires.
    public var tokenRenewalMargin: Double

    /// - Throws: `ThingseeError.configuration` for a URL that is not absolute, not HTTP(S), or plain HTTP to a host
    ///   that is not loopback (a client secret must never cross a network in clear text).
    public init(
        baseURL: String, clientID: String, clientSecret: Secret, retry: RetryPolicy = RetryPolicy(),
        timeout: Double = 30, tokenLifetime: Double = 900, tokenRenewalMargin: Double = 60
    ) throws {
        var text = baseURL.trimmingCharacters(in: .whitespaces)
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else {
            throw ThingseeError.configuration(
                "invalid base URL `\(baseURL)`: expected e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1")
        }
        switch scheme {
        case "https": break
        case "http":
            guard Self.isLoopback(host) else {
                throw ThingseeError.configuration(
                    "refusing plain http:// to \(host): credentials would travel unencrypted; use https://")
            }
        default:
            throw ThingseeError.configuration("invalid base URL `\(baseURL)`: the scheme must be https")
        }
        guard !clientID.isEmpty else {
            throw ThingseeError.configuration("no client id: set THINGSEE_CLIENT_ID or --client-id")
        }
        self.baseURL = url
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.retry = retry
        self.timeout = timeout
        self.tokenLifetime = tokenLifetime
        self.tokenRenewalMargin = tokenRenewalMargin
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }

    /// A short human name for what this configuration talks to (the host, or host:port).
    public var displayHost: String {
        guard let host = baseURL.host else { return baseURL.absoluteString }
        return baseURL.port.map { "\(host):\($0)" } ?? host
    }
}
