import Foundation

/// Every failure of a call to the Open Service API.
///
/// Messages say what was tried and what happened; none of them ever contains the client secret or a token.
public enum ThingseeError: Error, Sendable, Equatable {
    /// The API answered with an error status (after retries, where the status is retryable).
    /// `error` and `message` are the API's own `{"statusCode", "error", "message"}` fields.
    case api(endpoint: String, status: Int, error: String, message: String)
    /// Logging in failed, or a request was still refused with 401/403 after logging in again.
    case authentication(endpoint: String, status: Int?, message: String)
    /// No answer: connection refused, timed out or dropped, after retries.
    case unreachable(endpoint: String, reason: String, attempts: Int)
    /// An answer that does not have the documented shape.
    case decoding(endpoint: String, field: String, reason: String)
    /// The client's own settings are unusable (base URL, credentials).
    case configuration(String)
    /// The request was cancelled (Ctrl-C, shutdown).
    case cancelled(endpoint: String)
    /// A write (POST, DELETE) went out but its outcome is unknown: the API answered 5xx, or the connection was
    /// lost or the deadline passed after the request was sent. The API may or may not have applied it; reconcile
    /// (command history, installation status, group) before sending it again. Never retried by the client.
    case outcomeUnknown(endpoint: String, status: Int?, reason: String)

    /// The HTTP status, where there was one.
    public var status: Int? {
        switch self {
        case .api(_, let status, _, _): status
        case .authentication(_, let status, _): status
        case .outcomeUnknown(_, let status, _): status
        default: nil
        }
    }
}

extension ThingseeError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .api(let endpoint, let status, let error, let message):
            let detail = message.isEmpty ? error : message
            return "\(endpoint): \(status) \(error): \(detail)\(Self.hint(status: status, message: message))"
        case .authentication(let endpoint, let status, let message):
            let code = status.map { " (\($0))" } ?? ""
            return "\(endpoint): authentication failed\(code): \(message); "
                + "check THINGSEE_CLIENT_ID and the client secret (THINGSEE_CLIENT_SECRET or --client-secret-file)"
        case .unreachable(let endpoint, let reason, let attempts):
            let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
            return "\(endpoint): API unreachable after \(tries): \(reason); check the base URL and the network"
        case .decoding(let endpoint, let field, let reason):
            return "\(endpoint): unexpected response: field `\(field)` \(reason)"
        case .configuration(let message):
            return message
        case .cancelled(let endpoint):
            return "\(endpoint): cancelled"
        case .outcomeUnknown(let endpoint, _, let reason):
            return "\(endpoint): outcome unknown (\(reason)): the API may or may not have applied it; "
                + "reconcile before retrying"
        }
    }

    public var errorDescription: String? { description }

    /// API Gateway's answer to a route it does not know, usually a wrong base URL.
    static let missingAuthenticationToken = "Missing Authentication Token"

    private static func hint(status: Int, message: String) -> String {
        switch status {
        case 403 where message == missingAuthenticationToken:
            " (no such route: check the base URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1)"
        case 300..<400: " (tsee follows no redirects: check the base URL)"
        case 404: " (check the TUID or group id)"
        case 409: " (it already exists)"
        case 429: " (rate limited; try again later)"
        case 500...599: " (the service failed; try again later)"
        default: ""
        }
    }
}
