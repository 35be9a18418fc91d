import Automation
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Synchronization
import TestSupport
import Testing

/// A webhook receiver on 127.0.0.1:0 that records what it is sent and answers with the status it is told to.
final class HookServer: Sendable {
    struct Delivery: Sendable {
        var key: String?
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: raw) as? [String: Any]) ?? [:] }
        var raw: Data
    }

    let deliveries = Mutex<[Delivery]>([])
    let status = Mutex<HTTPResponse.Status>(.ok)
    private let task = Mutex<Task<Void, Never>?>(nil)

    func start() async throws -> Int {
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            self.deliveries.withLock {
                $0.append(Delivery(key: request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value, raw: Data(buffer: body)))
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

    func stop() async {
        let t = task.withLock { $0 }
        t?.cancel()
        await t?.value
    }
}

@Suite("Notifications")
struct NotifyTests {
    @Test func aNotificationIsDeliveredOncePerFiringWithItsKeyAndRetriedUntilAccepted() async throws {
        let hook = HookServer()
        let port = try await hook.start()
        defer { Task { await hook.stop() } }
        hook.status.withLock { $0 = .internalServerError }
        try await SimulatorHarness.with { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            let rules = "rule low: when battery below 101 then notify \"http://127.0.0.1:\(port)/hook\"\nseverity warning"
            let run = try scheduler(sim, store: store, rules: rules)

            // The receiver fails: each notification stays open, and is tried again next cycle with the same key.
            let first = await run.runCycle()
            #expect(first.firings > 0)
            #expect(try await store.openIntents().count == first.firings)
            let refused = hook.deliveries.withLock { $0 }
            #expect(refused.count == first.firings)

            hook.status.withLock { $0 = .ok }
            _ = await run.runCycle()
            #expect(try await store.openIntents().isEmpty)
            let all = hook.deliveries.withLock { $0 }
            #expect(all.count == 2 * first.firings)
            let keys = Set(refused.compactMap(\.key))
            #expect(keys.count == first.firings)
            #expect(Set(all.dropFirst(refused.count).compactMap(\.key)) == keys, "retried with the same keys")
            let body = try #require(all.last?.body)
            #expect(body["rule"] as? String == "low" && body["state"] as? String == "firing")
            #expect(body["severity"] as? String == "warning")
            #expect((body["values"] as? [String: Any])?["battery"] != nil)
            #expect(keys.contains(body["key"] as? String ?? ""))

            // Delivered: nothing more is sent while the rule keeps firing.
            _ = await run.runCycle()
            #expect(hook.deliveries.withLock { $0.count } == 2 * first.firings)
            try await expectFiringsMatchState(store)
        }
    }
}
