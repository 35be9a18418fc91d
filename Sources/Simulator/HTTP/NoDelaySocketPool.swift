import FlyingFox
import FlyingSocks
import Foundation

/// FlyingFox's socket pool, with Nagle's algorithm turned off on every socket it waits on.
///
/// FlyingFox writes a response's header and body separately. With Nagle on, the body waits for the
/// header's ACK, which a keep-alive client delays by up to 40 ms on Linux: every request on a reused
/// connection then took ~43 ms instead of ~1 ms. Sockets are configured when first waited on (the
/// listening socket, so accepted ones inherit it on Linux, and each connection before its first read).
struct NoDelaySocketPool: AsyncSocketPool {
    private let base: any AsyncSocketPool = HTTPServer.defaultPool()
    private static var noDelay: BoolSocketOption { BoolSocketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY) }

    func prepare() async throws {
        try await base.prepare()
    }

    func run() async throws {
        try await base.run()
    }

    func suspendSocket(_ socket: Socket, untilReadyFor events: Socket.Events) async throws {
        // Fails harmlessly for non-TCP sockets (a Unix socket address).
        try? socket.setValue(true, for: Self.noDelay)
        try await base.suspendSocket(socket, untilReadyFor: events)
    }
}
