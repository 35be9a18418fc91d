import Foundation
import NIOFoundationCompat
import Hummingbird

/// Breaks the body of successful API reads (`malformedEvery`, `malformedRate`); the status stays 200.
struct MalformedBodyMiddleware: RouterMiddleware {
    typealias Context = SimulatorContext
    let state: SimulatorState
    let every: Int
    let rate: Double

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response = try await next(request, context)
        guard context.isRead(request), response.status == .ok, let kind = nextMalformation() else { return response }
        let body = try await Reply.collect(response.body)
        let data = JSON.parse(Data(buffer: body))?["data"] ?? .null
        state.count { $0.malformed += 1 }
        response.body = ResponseBody(byteBuffer: ByteBuffer(bytes: kind.body(for: data)))
        return response
    }

    /// Which malformation, if any, the next successful read gets.
    private func nextMalformation() -> Malformation? {
        state.withLock { values in
            values.successfulReads += 1
            let kinds = Malformation.allCases
            if every > 0, values.successfulReads % every == 0 {
                return kinds[(values.successfulReads / every) % kinds.count]
            }
            let roll = values.malformedDice.next()
            if rate > 0, Double(roll >> 11) / Double(1 << 53) < rate {
                return kinds[Int(roll % UInt64(kinds.count))]
            }
            return nil
        }
    }
}
