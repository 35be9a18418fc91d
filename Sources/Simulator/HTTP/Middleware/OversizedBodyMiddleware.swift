import Hummingbird
import NIOCore

/// For tests of a client's limits: successful API reads answered with a body that never ends (`endlessBody`) or
/// with a gzip bomb (`gzipBomb`).
struct OversizedBodyMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    /// nil: an endless body.
    let bomb: GzipBomb?

    /// About 64 KB of well-formed message objects, repeated for ever after `{"data":[`.
    private static let endlessChunk = ByteBuffer(
        string: String(
            repeating: #"{"tsmId":1110,"tsmEv":10,"tsmTs":1700000000,"tsmTuid":"TSPD04AAA00000000","batl":50},"#,
            count: 720))

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        guard context.isRead(request), response.status == .ok else { return response }
        if let bomb {
            response.headers[.contentEncoding] = "gzip"
            response.body = ResponseBody(contentLength: bomb.compressedSize) { writer in
                try await writer.write(ByteBuffer(bytes: bomb.head))
                let chunkUnits = 4_096
                let chunk = ByteBuffer(bytes: Array([[UInt8]](repeating: bomb.unit, count: chunkUnits).joined()))
                var left = bomb.units
                while left > 0 {
                    try Task.checkCancellation()
                    await Self.letTheLoopRun()
                    if left >= chunkUnits {
                        try await writer.write(chunk)
                        left -= chunkUnits
                    } else {
                        try await writer.write(chunk.getSlice(at: chunk.readerIndex, length: left * bomb.unit.count)!)
                        left = 0
                    }
                }
                try await writer.write(ByteBuffer(bytes: bomb.tail))
                try await writer.finish(nil)
            }
        } else {
            response.body = ResponseBody { writer in
                try await writer.write(ByteBuffer(string: #"{"data":["#))
                while true {
                    try Task.checkCancellation()
                    await Self.letTheLoopRun()
                    try await writer.write(Self.endlessChunk)
                }
            }
        }
        return response
    }

    /// Suspends once so that the event loop serving the connection (`EventLoopBoundChannel`) handles its other
    /// work: a write to a client that reads as fast as it is written never suspends, and a body that never ends
    /// would otherwise hold the loop for ever (no other connection served, `stop()` never done).
    private static func letTheLoopRun() async {
        await Task.yield()
    }
}
