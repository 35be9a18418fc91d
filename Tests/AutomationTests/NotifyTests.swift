import Automation
import Foundation
import Hummingbird
import Logging
import NIOCore
import Store
import Synchronization
import TestSupport
import Testing

@Suite("Notifications")
struct NotifyTests {
    @Test func aNotificationIsDeliveredOncePerFiringWithItsKeyAndRetriedUntilAccepted() async throws {
        let hook = HookServer()
        let port = try await hook.start()
        defer { Task { await hook.stop() } }
        hook.status.withLock { $0 = .internalServerError }
        try await SimulatorHarness.with { sim in
            let store = try Store(path: temporaryDatabase())
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
