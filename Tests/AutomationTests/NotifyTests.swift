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
            let store = try SQLiteStore(path: temporaryDatabase())
            let rules = "rule low: when battery below 101 then notify \"http://127.0.0.1:\(port)/hook\"\nseverity warning"
            let run = try scheduler(sim, store: store, rules: rules)

            // The receiver fails: each notification stays open, to be tried again next cycle with the same key.
            // After the first failure the origin is left alone for the cycle: only the deliveries already in
            // flight (at most one per concurrent device) reach it, not one per firing.
            let first = await run.runCycle()
            #expect(first.firings > 8)
            let open = try await store.openIntents()
            #expect(open.count == first.firings)
            let refused = hook.deliveries.withLock { $0 }
            #expect(refused.count >= 1 && refused.count <= 8, "\(refused.count) deliveries to a failing webhook")

            hook.status.withLock { $0 = .ok }
            _ = await run.runCycle()
            #expect(try await store.openIntents().isEmpty)
            let all = hook.deliveries.withLock { $0 }
            #expect(all.count == refused.count + first.firings)
            let keys = Set(open.map(\.firingKey))
            #expect(Set(refused.compactMap(\.key)).isSubset(of: keys))
            #expect(Set(all.dropFirst(refused.count).compactMap(\.key)) == keys, "retried with the same keys")
            let body = try #require(all.last?.body)
            #expect(body["rule"] as? String == "low" && body["state"] as? String == "firing")
            #expect(body["severity"] as? String == "warning")
            #expect((body["values"] as? [String: Any])?["battery"] != nil)
            #expect(keys.contains(body["key"] as? String ?? ""))

            // Delivered: nothing more is sent while the rule keeps firing.
            _ = await run.runCycle()
            #expect(hook.deliveries.withLock { $0.count } == refused.count + first.firings)
            try await expectFiringsMatchState(store)
        }
    }

    @Test func anUnreachableWebhookCostsTheCycleOneAttemptNotOnePerFiring() async throws {
        // A port nothing listens on: the connection is refused at once, and not retried until a deadline.
        try await SimulatorHarness.with { sim in
            let store = try SQLiteStore(path: temporaryDatabase())
            let rules = "rule low: when battery below 101 then notify \"http://127.0.0.1:9/hook\""
            let run = try scheduler(sim, store: store, rules: rules)
            let started = ContinuousClock.now
            let first = await run.runCycle()
            #expect(first.firings > 8)
            #expect(try await store.openIntents().count == first.firings)
            let second = await run.runCycle()
            #expect(second.errors == 0 || second.errors <= first.firings)
            #expect(try await store.openIntents().count == first.firings, "still open, none lost")
            // Generous: only a retried connection per firing (8 s each) could come near it.
            #expect(ContinuousClock.now - started < .seconds(60))
        }
    }
}
