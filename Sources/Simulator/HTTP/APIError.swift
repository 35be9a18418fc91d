/// An error answered to the client with the matching HTTP status.
///
/// The service's own errors carry `{"statusCode", "error", "message"}`; the ones API Gateway answers in front of
/// it (an unknown route, a timed-out integration) carry only `{"message"}`, as the real deployment does.
struct APIError: Error, Sendable, Equatable {
    let statusCode: Int
    let message: String
    /// The body is API Gateway's `{"message"}` rather than the service's error object.
    var fromGateway = false

    static func badRequest(_ message: String) -> APIError { APIError(statusCode: 400, message: message) }
    static func unauthorized(_ message: String) -> APIError { APIError(statusCode: 401, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(statusCode: 404, message: message) }
    static func conflict(_ message: String) -> APIError { APIError(statusCode: 409, message: message) }
    static func tooManyRequests(_ message: String) -> APIError { APIError(statusCode: 429, message: message) }
    static func unavailable(_ message: String) -> APIError { APIError(statusCode: 503, message: message) }
    /// API Gateway's answer to a path or method no resource has.
    static let missingAuthenticationToken = APIError(
        statusCode: 403, message: "Missing Authentication Token", fromGateway: true)
    /// API Gateway's answer when the integration behind it did not answer in time.
    static let gatewayTimeout = APIError(statusCode: 504, message: "Endpoint request timed out", fromGateway: true)

    /// The reason phrase, as the `error` field and the status line carry it.
    var reason: String {
        switch statusCode {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 409: return "Conflict"
        case 429: return "Too Many Requests"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return "Internal Server Error"
        }
    }

    var body: JSON {
        if fromGateway { return .object([("message", .string(message))]) }
        return .object([("statusCode", .int(statusCode)), ("error", .string(reason)), ("message", .string(message))])
    }
}
