import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import NIOSSL
import Synchronization

/// A tiny HTTP/1.1 server on 127.0.0.1:0 whose every answer the test scripts, for the faults the simulator does
/// not have: trickled, endless and compressed-bomb bodies, writes applied and then dropped, redirects, TLS.
///
/// `POST …/auth/client-token` is answered with a token unless the script says otherwise; every request, the
/// login included, is recorded.
final class FaultServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var headers: [(String, String)]
        var body: String

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }
        var isLogin: Bool { path.hasSuffix("/auth/client-token") }
    }

    enum Reply: Sendable {
        /// A complete answer.
        case respond(status: Int, headers: [(String, String)] = [], body: String = "")
        /// The head (with a `Content-Length` far beyond what follows), then one byte every `every` for ever.
        case trickle(every: TimeAmount)
        /// A chunked body of zeros, as fast as the client reads, up to `limit` bytes.
        case endless(limit: Int)
        /// The request is read, then the connection is closed without an answer.
        case drop
    }

    typealias Script = @Sendable (Request) -> Reply?

    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let state: SharedState
    let port: Int
    let scheme: String

    /// Starts the server. `compress` inflates nothing itself: it gzips every answer to a client that accepts it
    /// (the endless body then becomes a compression bomb). `tls` serves HTTPS with that certificate and key.
    static func start(compress: Bool = false, tls: (certificate: String, key: String)? = nil, _ script: @escaping Script)
        async throws -> FaultServer
    {
        let state = SharedState()
        var sslContext: NIOSSLContext?
        if let tls {
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(tls.certificate.utf8), format: .pem))],
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(tls.key.utf8), format: .pem)))
            sslContext = try NIOSSLContext(configuration: configuration)
        }
        let context = sslContext
        // Its own event loop: a server pumping bytes never delays the client's loops (or other tests' servers).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                state.connections.add(1, ordering: .relaxed)
                return channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    if compress {
                        try channel.pipeline.syncOperations.addHandler(HTTPResponseCompressor())
                    }
                    try channel.pipeline.syncOperations.addHandler(Handler(state: state, script: script))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FaultServer(channel: channel, group: group, state: state, scheme: tls == nil ? "http" : "https")
    }

    private init(channel: any Channel, group: MultiThreadedEventLoopGroup, state: SharedState, scheme: String) {
        self.channel = channel
        self.group = group
        self.state = state
        self.port = channel.localAddress?.port ?? 0
        self.scheme = scheme
    }

    var baseURL: String { "\(scheme)://127.0.0.1:\(port)/prod/v1" }

    /// Every request received so far.
    var requests: [Request] { state.log.withLock { $0 } }
    /// The requests received so far, logins left out.
    var apiRequests: [Request] { requests.filter { !$0.isLogin } }
    /// TCP connections accepted so far.
    var acceptedConnections: Int { state.connections.load(ordering: .relaxed) }
    /// Body bytes sent by `trickle` and `endless` so far.
    var streamedBytes: Int { state.streamed.load(ordering: .relaxed) }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    final class SharedState: Sendable {
        let log = Mutex<[Request]>([])
        let connections = Atomic<Int>(0)
        let streamed = Atomic<Int>(0)
        let logins = Atomic<Int>(0)
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: used only on its channel's event loop, as NIO handlers are.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private let state: SharedState
        private let script: Script
        private var head: HTTPRequestHead?
        private var body = ByteBuffer()

        init(state: SharedState, script: @escaping Script) {
            self.state = state
            self.script = script
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                guard let head else { return }
                let request = Request(
                    method: head.method.rawValue, path: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    body: String(buffer: body))
                state.log.withLock { $0.append(request) }
                let reply = script(request) ?? defaultReply(request)
                answer(reply, context: context)
            }
        }

        private func defaultReply(_ request: Request) -> Reply {
            if request.isLogin {
                let n = state.logins.add(1, ordering: .relaxed).newValue
                return .respond(status: 200, body: #"{"data": {"token": "token-\#(n)"}}"#)
            }
            return .respond(status: 404, body: #"{"statusCode": 404, "error": "Not Found", "message": "no script"}"#)
        }

        private func answer(_ reply: Reply, context: ChannelHandlerContext) {
            switch reply {
            case .respond(let status, let headers, let text):
                var h = HTTPHeaders(headers)
                if !h.contains(name: "Content-Type") { h.add(name: "Content-Type", value: "application/json") }
                h.replaceOrAdd(name: "Content-Length", value: String(text.utf8.count))
                let head = HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: h)
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .drop:
                context.close(promise: nil)
            case .trickle(let every):
                let head = HTTPResponseHead(
                    version: .http1_1, status: .ok,
                    headers: ["Content-Type": "application/json", "Content-Length": "1000000"])
                context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                let channel = context.channel
                let state = state
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                loop.scheduleRepeatedTask(initialDelay: every, delay: every) { task in
                    guard channel.isActive else {
                        task.cancel()
                        return
                    }
                    state.streamed.add(1, ordering: .relaxed)
                    let context = bound.value
                    context.writeAndFlush(
                        NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: " ")))), promise: nil)
                }
            case .endless(let limit):
                let head = HTTPResponseHead(
                    version: .http1_1, status: .ok, headers: ["Content-Type": "application/json"])
                context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                writeZeros(context: NIOLoopBound(context, eventLoop: context.eventLoop), remaining: limit)
            }
        }

        private func writeZeros(context: NIOLoopBound<ChannelHandlerContext>, remaining: Int) {
            let ctx = context.value
            guard remaining > 0, ctx.channel.isActive else {
                ctx.close(promise: nil)
                return
            }
            let size = min(remaining, 1 << 20)
            state.streamed.add(size, ordering: .relaxed)
            let chunk = ByteBuffer(repeating: 0x20, count: size)
            let loop = ctx.eventLoop
            ctx.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(chunk)))).whenComplete { result in
                guard case .success = result else { return }
                loop.execute { self.writeZeros(context: context, remaining: remaining - size) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
