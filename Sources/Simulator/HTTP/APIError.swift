/// An error answered to the client as `{"statusCode", "error", "message"}` with the matching HTTP status.
struct APIError: Error, Sendable, Equatable {
    let statusCode: Int
    let message: String

    static func badRequest(_ message: String) -> APIError { APIError(statusCode: 400, message: message) }
    static func unauthorized(_ message: String) -> APIError { APIError(statusCode: 401, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(statusCode: 404, message: message) }
    static func conflict(_ message: String) -> APIError { APIError(statusCode: 409, message: message) }
    static func tooManyRequests(_ message: String) -> APIError { APIError(statusCode: 429, message: message) }
    static func unavailable(_ message: String) -> APIError { APIError(statusCode: 503, message: message) }

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
        default: return "Internal Server Error"
        }
    }

    var body: JSON {
        .object([("statusCode", .int(statusCode)), ("error", .string(reason)), ("message", .string(message))])
    }
}
