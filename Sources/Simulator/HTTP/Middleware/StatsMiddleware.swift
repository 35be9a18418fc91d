import Hummingbird

/// Counts every request the API receives, by route and by the status it was answered with.
struct StatsMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let isWrite = context.isWrite(request)
        let route = "\(request.method.rawValue) \(context.template ?? "(unknown)")"
        state.count { stats in
            stats.total += 1
            stats.byRoute[route, default: 0] += 1
            if isWrite { stats.mutating += 1 }
        }
        let response = try await next(request, context)
        let status = response.status.code
        state.count { stats in
            stats.byStatus[status, default: 0] += 1
            if isWrite, (200..<300).contains(status) { stats.mutatingApplied += 1 }
        }
        return response
    }
}
