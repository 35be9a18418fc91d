import Hummingbird

/// A path or method no route has is answered as API Gateway does: 403 `{"message": "Missing Authentication
/// Token"}`, with or without a token.
struct UnknownRouteMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        // The router names the matched endpoint before the middleware runs; only the not-found chain has none.
        guard context.endpointPath != nil else { return Reply.error(.missingAuthenticationToken) }
        return try await next(request, context)
    }
}
