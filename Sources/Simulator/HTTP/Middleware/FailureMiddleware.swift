import Hummingbird

/// Answers API requests 503: every `failEvery`th, and a seeded random share `failRate`.
///
/// Unknown routes are API requests too; the token endpoint never fails, so a client can always log in.
struct FailureMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState
    let every: Int
    let rate: Double

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard context.template != Context.tokenRoute else { return try await next(request, context) }
        let failure: APIError? = state.withLock { values in
            values.apiRequests += 1
            if every > 0, values.apiRequests % every == 0 {
                return .unavailable("Service unavailable (injected: every \(every) requests)")
            }
            if rate > 0, values.failureDice.nextUnit() < rate {
                return .unavailable("Service unavailable (injected: fail rate \(rate))")
            }
            return nil
        }
        if let failure { return Reply.error(failure) }
        return try await next(request, context)
    }
}
