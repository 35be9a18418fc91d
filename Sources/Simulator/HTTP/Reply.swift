import Hummingbird
import NIOCore

/// Responses as the API writes them: `{"data": …}` on success, the error's body otherwise, always JSON.
enum Reply {
    static func data(_ data: JSON) -> Response {
        // The envelope is written around the value, into the body's buffer: a messages page (`.raw`) is copied
        // once, not into a tree's array and then into the buffer.
        let value: [UInt8]
        if case .raw(let bytes) = data {
            value = bytes
        } else {
            var out: [UInt8] = []
            out.reserveCapacity(1_024)
            data.write(to: &out)
            value = out
        }
        var buffer = ByteBufferAllocator().buffer(capacity: value.count + 9)
        buffer.writeStaticString("{\"data\":")
        buffer.writeBytes(value)
        buffer.writeStaticString("}")
        return bytes(buffer, status: .ok)
    }

    static func error(_ error: APIError) -> Response {
        var response = json(error.body, status: HTTPResponse.Status(code: error.statusCode, reasonPhrase: error.reason))
        if error.statusCode == 429 { response.headers[.retryAfter] = "1" }
        return response
    }

    static func json(_ value: JSON, status: HTTPResponse.Status) -> Response {
        bytes(value.buffer(), status: status)
    }

    static func bytes(_ body: ByteBuffer, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }

    /// The whole body of a response, however it is written.
    static func collect(_ body: ResponseBody) async throws -> ByteBuffer {
        let sink = Sink()
        try await body.write(CollectingWriter(sink: sink))
        return sink.buffer
    }

    private final class Sink {
        var buffer = ByteBuffer()
    }

    private struct CollectingWriter: ResponseBodyWriter {
        let sink: Sink

        mutating func write(_ buffer: ByteBuffer) async throws {
            var buffer = buffer
            sink.buffer.writeBuffer(&buffer)
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }
}

/// Thrown to close the connection without answering (an ambiguous write whose answer is lost).
struct ConnectionDropped: Error {}
