import Hummingbird

/// Delays every answer by a fixed time (`latencyMs`).
struct LatencyMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let delay: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        try await Task.sleep(for: delay)
        return try await next(request, context)
    }
}
