import Foundation
import Hummingbird

/// Every API call but the token's needs `Authorization: Bearer TOKEN` with a token that has not expired.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if let refusal = check(request.headers[.authorization]) { return Reply.error(refusal) }
        return try await next(request, context)
    }

    private func check(_ header: String?) -> APIError? {
        guard let header else { return .unauthorized("Missing Authorization header") }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            return .unauthorized("Authorization must be a Bearer token")
        }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        let now = ContinuousClock.now
        return state.withLock { values in
            guard let expiry = values.tokens[token] else { return APIError.unauthorized("Unknown token") }
            guard expiry > now else {
                values.tokens[token] = nil
                return APIError.unauthorized("The token has expired")
            }
            return nil
        }
    }
}
