import Hummingbird

/// Successful writes answer, in turn, 204 No Content, an empty 200 and `{"data": "OK"}`, as some deployments do.
struct EmptyWriteBodyMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let response = try await next(request, context)
        guard context.isWrite(request), (200..<300).contains(response.status.code) else { return response }
        let turn = state.withLock { values in
            values.emptyWriteBodies += 1
            return values.emptyWriteBodies % 3
        }
        switch turn {
        case 1:
            var empty = Response(status: .noContent)
            empty.headers[.contentLength] = nil
            return empty
        case 2:
            return Response(status: .ok, body: ResponseBody())
        default:
            return Reply.data(.string("OK"))
        }
    }
}
