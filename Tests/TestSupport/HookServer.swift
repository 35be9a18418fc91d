import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A webhook receiver on 127.0.0.1:0 that records what it is sent and answers with the status it is told to.
public final class HookServer: Sendable {
    public struct Delivery: Sendable {
        public var key: String?
        /// The `Authorization` header, if any.
        public var authorization: String?
        public var body: [String: Any] { (try? JSONSerialization.jsonObject(with: raw) as? [String: Any]) ?? [:] }
        public var raw: Data
        /// When it was received.
        public var at = ContinuousClock.now
    }

    public let deliveries = Mutex<[Delivery]>([])
    public let status = Mutex<HTTPResponse.Status>(.ok)
    private let task = Mutex<Task<Void, Never>?>(nil)

    public init() {}

    public func start() async throws -> Int {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            self.deliveries.withLock {
                $0.append(
                    Delivery(
                        key: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value,
                        authorization: request.headers.first { $0.name.canonicalName == "authorization" }?.value,
                        raw: Data(buffer: body)))
            }
            return Response(status: self.status.withLock { $0 })
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "hook")
        quiet.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quiet)
        task.withLock { $0 = Task { try? await app.run() } }
        for await port in ports { return port }
        return 0
    }

    public func stop() async {
        let t = task.withLock { $0 }
        t?.cancel()
        await t?.value
    }
}
