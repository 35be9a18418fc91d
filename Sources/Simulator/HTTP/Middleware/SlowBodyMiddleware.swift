import Hummingbird
import NIOCore

/// Trickles every API answer but the token's, one byte at a time (`slowBody`), with its full `Content-Length`.
struct SlowBodyMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let interval: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        guard context.template != Context.tokenRoute else { return response }
        let whole = try await Reply.collect(response.body)
        let interval = interval
        response.body = ResponseBody(contentLength: whole.readableBytes) { writer in
            var rest = whole
            while let byte = rest.readSlice(length: 1) {
                try await writer.write(byte)
                if rest.readableBytes > 0 { try await Task.sleep(for: interval) }
            }
            try await writer.finish(nil)
        }
        return response
    }
}
