import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One HTTP/1.1 exchange over a plain socket, for what URLSession hides: a connection closed without an answer,
/// the bytes of a gzip body as sent, a body that never ends.
struct RawHTTP {
    struct Answer {
        /// nil when the connection closed before a status line.
        let status: Int?
        let headers: [String: String]
        /// The body bytes read (all of them for a `Content-Length` body, up to `limit` otherwise).
        let body: [UInt8]
        /// The connection was closed by the server before `limit` bytes of body.
        let closed: Bool

        func header(_ name: String) -> String? { headers[name.lowercased()] }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let port: Int

    init(base: URL) {
        port = base.port!
    }

    /// Sends one request on a fresh connection and reads the answer: the whole `Content-Length` body, or at most
    /// `limit` bytes of any other; the connection is closed afterwards.
    func exchange(
        _ method: String, _ path: String, token: String? = nil, json: String? = nil, limit: Int = 64 << 20
    ) async throws -> Answer {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { request += "Authorization: Bearer \(token)\r\n" }
        if let json {
            request += "Content-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
        } else {
            request += "\r\n"
        }
        let port = port
        let text = request
        return try await withCheckedThrowingContinuation { continuation in
            // Blocking socket calls, kept off the tests' cooperative threads.
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.blockingExchange(port: port, request: text, limit: limit) })
            }
        }
    }

    private static func blockingExchange(port: Int, request: String, limit: Int) throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "connect failed") }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
            throw Failure(description: "send failed")
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var closed = false
        var headEnd: Int?
        var contentLength: Int?
        while true {
            if let headEnd {
                let bodyCount = received.count - headEnd
                if let contentLength, bodyCount >= contentLength { break }
                if bodyCount >= limit { break }
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 { throw Failure(description: "recv failed: errno \(errno)") }
            if count == 0 {
                closed = true
                break
            }
            received += buffer[0..<count]
            if headEnd == nil, let end = Self.find([13, 10, 13, 10], in: received) {
                headEnd = end + 4
                let head = String(decoding: received[0..<end], as: UTF8.self)
                contentLength = Self.headers(head)["content-length"].flatMap { Int($0) }
            }
        }
        guard let headEnd else { return Answer(status: nil, headers: [:], body: [], closed: true) }
        let head = String(decoding: received[0..<(headEnd - 4)], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        return Answer(status: status, headers: Self.headers(head), body: Array(received[headEnd...]), closed: closed)
    }

    private static func headers(_ head: String) -> [String: String] {
        var headers: [String: String] = [:]
        for line in head.components(separatedBy: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return headers
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
