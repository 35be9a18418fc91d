import Hummingbird

/// Applies a share of successful writes (`ambiguousWriteRate`) and then loses their answer: 504 from the gateway
/// and no answer at all (the connection is closed) take turns.
struct AmbiguousWriteMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState
    let rate: Double

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let response = try await next(request, context)
        guard context.isWrite(request), (200..<300).contains(response.status.code) else { return response }
        let drop: Bool? = state.withLock { values in
            guard values.ambiguousDice.nextUnit() < rate else { return nil }
            values.ambiguousWrites += 1
            values.stats.ambiguousWrites += 1
            // The write was applied: it counts as such whatever the client hears.
            values.stats.mutatingApplied += 1
            let drop = values.ambiguousWrites % 2 == 0
            if drop { values.stats.droppedConnections += 1 }
            return drop
        }
        switch drop {
        case nil: return response
        case false?: return Reply.error(.gatewayTimeout)
        case true?: throw ConnectionDropped()
        }
    }
}
