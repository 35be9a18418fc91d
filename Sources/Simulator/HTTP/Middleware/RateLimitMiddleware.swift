import Hummingbird

/// At most `rateLimit` requests in any one real second, token requests included, as a gateway throttles
/// everything; the excess is answered 429 with `Retry-After: 1`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState
    let limit: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let now = ContinuousClock.now
        let windowStart = now - .seconds(1)
        let admitted = state.withLock { values in
            if let firstKept = values.recentRequests.firstIndex(where: { $0 > windowStart }) {
                values.recentRequests.removeFirst(firstKept)
            } else {
                values.recentRequests.removeAll()
            }
            guard values.recentRequests.count < limit else { return false }
            values.recentRequests.append(now)
            return true
        }
        guard admitted else {
            return Reply.error(.tooManyRequests("Rate limit of \(limit) requests per second exceeded"))
        }
        return try await next(request, context)
    }
}
