import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import Synchronization
import ThingseeKit

/// `--metrics-listen`: `/metrics` in the Prometheus text format and `/healthz`, on Hummingbird.
public final class MetricsServer: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let health: Health
    private let host: String
    private let port: Int
    private let running = RunningTask()

    /// The address a metrics listener may take: a loopback address unless `allowPublic`.
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int

        /// Parses `HOST:PORT` (`[::1]:9464` for IPv6).
        public static func parse(_ text: String, allowPublic: Bool) throws -> Address {
            var host = ""
            var portText = ""
            if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                host = String(text[text.index(after: text.startIndex)..<close])
                portText = String(text[close...].dropFirst().drop { $0 == ":" })
            } else if let colon = text.lastIndex(of: ":") {
                host = String(text[..<colon])
                portText = String(text[text.index(after: colon)...])
            }
            guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
                throw MetricsError("--metrics-listen takes HOST:PORT, e.g. 127.0.0.1:9464, not `\(text)`")
            }
            if !allowPublic, !NetworkHost.isLoopback(host) {
                throw MetricsError(
                    "--metrics-listen \(text) is not a loopback address; the metrics would be reachable from the "
                        + "network: add --metrics-listen-public to mean it")
            }
            return Address(host: host, port: port)
        }
    }

    public struct MetricsError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public init(address: Address, registry: PrometheusCollectorRegistry, health: Health) {
        self.host = address.host
        self.port = address.port
        self.registry = registry
        self.health = health
    }

    /// Starts listening; returns the port (the one the system chose for port 0).
    public func start() async throws -> Int {
        let router = Router()
        let registry = self.registry
        let health = self.health
        router.get("metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(
                status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ -> Response in
            let verdict = health.verdict(now: Date().timeIntervalSince1970)
            return Response(
                status: verdict.healthy ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: verdict.reason + "\n")))
        }
        let bound = AsyncStream<Int>.makeStream()
        var quiet = Logger(label: "tsee.metrics")
        quiet.logLevel = .critical
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                bound.continuation.yield(channel.localAddress?.port ?? 0)
                bound.continuation.finish()
            },
            logger: quiet)
        let task = Task {
            do {
                try await app.run()
            } catch {
                bound.continuation.finish()
            }
        }
        running.set(task)
        for await port in bound.stream { return port }
        task.cancel()
        throw MetricsError("could not listen on \(host):\(port) for metrics")
    }

    public func stop() async {
        await running.cancel()
    }
}

/// The server's task, so that `stop()` can end it.
private final class RunningTask: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    func set(_ t: Task<Void, Never>) { task.withLock { $0 = t } }
    func cancel() async {
        let t = task.withLock { $0 }
        t?.cancel()
        await t?.value
    }
}
