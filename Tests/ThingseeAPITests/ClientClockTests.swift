import Foundation
import TestSupport
import Testing

@testable import ThingseeAPI

/// Backoff, token expiry and the server clock run on the injected clock: these tests move it by hand and never
/// wait on the wall clock.
@Suite("Client on a manual clock", .timeLimit(.minutes(1)))
struct ClientClockTests {
    @Test func rateLimitIsRetriedHonouringRetryAfter() async throws {
        let answers = CountingScript { n, _ in
            n == 1
                ? .respond(
                    status: 429, headers: [("Retry-After", "7")], body: apiErrorBody(429, "Too Many Requests", "slow down"))
                : .respond(status: 200, body: #"{"data": []}"#)
        }
        try await FaultServer.with(answers.script) { server in
            let clock = ManualClock()
            let client = try server.client(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.2, maxDelay: 5), clock: clock)
            let call = Task { try await client.groups() }
            await clock.waitForSleepers(count: 1)
            // Asleep for exactly what the API asked, not for the jittered backoff.
            #expect(clock.sleeperDeadlines == [clock.now.advanced(by: .seconds(7))])
            #expect(server.apiRequests.count == 1)
            clock.advance(by: .milliseconds(6999))
            #expect(clock.sleeperCount == 1)
            clock.advance(by: .milliseconds(1))
            #expect(try await call.value.isEmpty)
            #expect(server.apiRequests.count == 2)
            #expect(client.metrics.retries == 1)
            await client.shutdown()
        }
    }

    @Test func retryAfterIsCappedAndBackoffGrowsWithoutIt() async throws {
        let answers = CountingScript { n, _ in
            switch n {
            case 1: .respond(status: 503, headers: [("Retry-After", "3600")])
            case 2, 3: .respond(status: 503)
            default: .respond(status: 200, body: #"{"data": []}"#)
            }
        }
        try await FaultServer.with(answers.script) { server in
            let clock = ManualClock()
            let retry = RetryPolicy(maxAttempts: 5, baseDelay: 1, maxDelay: 8, maxRetryAfter: 30)
            let client = try server.client(retry: retry, clock: clock)
            let call = Task { try await client.groups() }
            var delays: [Duration] = []
            for _ in 0..<3 {
                await clock.waitForSleepers(count: 1)
                let wake = try #require(clock.sleeperDeadlines.first)
                delays.append(clock.now.duration(to: wake))
                clock.advanceToNextDeadline()
            }
            #expect(try await call.value.isEmpty)
            #expect(delays[0] == .seconds(30))
            // Full jitter within [ceiling/2, ceiling], the ceiling doubling from the base delay.
            #expect(delays[1] >= .seconds(1) && delays[1] <= .seconds(2))
            #expect(delays[2] >= .seconds(2) && delays[2] <= .seconds(4))
            #expect(server.apiRequests.count == 4)
            await client.shutdown()
        }
    }

    @Test func cancellingDuringBackoffEndsTheCallAtOnce() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .respond(status: 503) }) { server in
            let clock = ManualClock()
            let client = try server.client(retry: RetryPolicy(maxAttempts: 5), clock: clock)
            let call = Task { try await client.groups() }
            await clock.waitForSleepers(count: 1)
            call.cancel()
            await #expect {
                _ = try await call.value
            } throws: { error in
                if case .cancelled? = error as? ThingseeError { true } else { false }
            }
            #expect(server.apiRequests.count == 1)
            await client.shutdown()
        }
    }

    @Test func theTokenIsRenewedBeforeItExpiresOnTheInjectedClock() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .respond(status: 200, body: #"{"data": []}"#) }) { server in
            let clock = ManualClock()
            // 900 s assumed, renewed 60 s early.
            let client = try server.client(clock: clock)
            _ = try await client.groups()
            clock.advance(by: .seconds(839))
            _ = try await client.groups()
            #expect(client.metrics.logins == 1)
            clock.advance(by: .seconds(2))
            _ = try await client.groups()
            #expect(client.metrics.logins == 2)
            #expect(server.apiRequests.map { $0.header("Authorization") ?? "" } == [
                "Bearer token-1", "Bearer token-1", "Bearer token-2",
            ])
            await client.shutdown()
        }
    }

    @Test func aRejectedTokenIsRenewedOnceAndTheRequestRepeated() async throws {
        try await FaultServer.with({ request in
            if request.isLogin { return nil }
            return request.header("Authorization") == "Bearer token-1"
                ? .respond(status: 401, body: apiErrorBody(401, "Unauthorized", "token expired"))
                : .respond(status: 200, body: #"{"data": []}"#)
        }) { server in
            let client = try server.client(clock: ManualClock())
            #expect(try await client.groups().isEmpty)
            #expect(client.metrics.logins == 2)
            #expect(server.apiRequests.count == 2)
            await client.shutdown()
        }
    }

    @Test func serverTimeAdvancesWithTheInjectedClockFromTheDateHeader() async throws {
        try await FaultServer.with({ request in
            request.isLogin
                ? nil : .respond(status: 200, headers: [("Date", "Tue, 01 Dec 2026 12:00:00 GMT")], body: #"{"data": []}"#)
        }) { server in
            let clock = ManualClock()
            let client = try server.client(clock: clock)
            #expect(!client.knowsServerTime)
            _ = try await client.groups()
            #expect(client.knowsServerTime)
            let noon = try #require(ISOTime.parseHTTPDate("Tue, 01 Dec 2026 12:00:00 GMT"))
            #expect(client.serverNow() == noon)
            clock.advance(by: .seconds(100))
            #expect(client.serverNow() == noon + 100)
            // The same Date header again does not pull the clock back.
            _ = try await client.groups()
            #expect(client.serverNow() == noon + 100)
            await client.shutdown()
        }
    }
}

@Suite("Manual clock")
struct ManualClockTests {
    @Test func sleepersWakeInDeadlineOrderOnlyWhenTimeIsAdvanced() async throws {
        let clock = ManualClock()
        let order = Order()
        let a = Task { try await clock.sleep(for: .seconds(5)); await order.append("a") }
        let b = Task { try await clock.sleep(for: .seconds(2)); await order.append("b") }
        await clock.waitForSleepers(count: 2)
        clock.advance(by: .seconds(1))
        #expect(clock.sleeperCount == 2)
        clock.advance(by: .seconds(1))
        try await b.value
        #expect(await order.items == ["b"])
        #expect(clock.sleeperCount == 1)
        clock.advance(by: .seconds(3))
        try await a.value
        #expect(await order.items == ["b", "a"])
        // A deadline already passed does not suspend.
        try await clock.sleep(until: clock.now)
    }

    @Test func aCancelledSleeperThrowsAndLeaves() async {
        let clock = ManualClock()
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        await clock.waitForSleepers(count: 1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleeperCount == 0)
    }

    actor Order {
        var items: [String] = []
        func append(_ item: String) { items.append(item) }
    }
}
