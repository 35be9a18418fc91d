import Foundation
import TestSupport
import Testing

@testable import ThingseeAPI

@Suite("Tokens, retries, failures")
struct ClientResilienceTests {
    @Test func expiredTokenIsRenewedWithoutAUserVisibleFailure() async throws {
        try await SimulatorHarness.with({ $0.tokenTTL = 3 }) { sim in
            let tuid = try #require(try await sim.allDevices().first)
            _ = try await sim.client.thing(tuid)
            try await Task.sleep(for: .milliseconds(3300))
            _ = try await sim.client.thing(tuid)
            #expect(sim.client.metrics.logins >= 2)
        }
    }

    @Test func concurrentRequestsShareOneLogin() async throws {
        try await SimulatorHarness.with { sim in
            let client = sim.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<16 { group.addTask { _ = try await client.groups() } }
                try await group.waitForAll()
            }
            #expect(client.metrics.logins == 1)
        }
    }

    @Test func injected503sAreRetried() async throws {
        try await SimulatorHarness.with({ $0.failEvery = 3 }) { sim in
            for _ in 0..<9 { _ = try await sim.client.groups() }
            #expect(sim.client.metrics.retries >= 2)
        }
    }

    @Test func rateLimitIsRetriedHonouringRetryAfter() async throws {
        try await SimulatorHarness.with({ $0.rateLimit = 5 }) { sim in
            let client = sim.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<12 { group.addTask { _ = try await client.groups() } }
                try await group.waitForAll()
            }
            #expect(client.metrics.retries > 0)
        }
    }

    @Test func persistentFailureSurfacesAfterBoundedRetries() async throws {
        let retry = RetryPolicy(maxAttempts: 3, baseDelay: 0.01, maxDelay: 0.02)
        try await SimulatorHarness.with({ $0.failRate = 1 }, retry: retry) { sim in
            do {
                _ = try await sim.client.groups()
                Issue.record("expected a 503")
            } catch let error as ThingseeError {
                #expect(error.status == 503)
                #expect(sim.client.metrics.retries == 2)
            }
        }
    }

    @Test func wrongSecretIsAnAuthenticationFailureThatNeverShowsTheSecret() async throws {
        try await SimulatorHarness.with(secret: "not-the-secret-xyz") { sim in
            do {
                _ = try await sim.client.groups()
                Issue.record("expected an authentication failure")
            } catch let error as ThingseeError {
                guard case .authentication = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(!error.description.contains("not-the-secret-xyz"))
                #expect(!String(describing: sim.client.configuration).contains("not-the-secret-xyz"))
            }
        }
    }

    @Test func closedPortIsUnreachable() async throws {
        // Port 9 (discard) has no listener on this loopback.
        let client = ThingseeClient(
            configuration: try ClientConfiguration(
                baseURL: "http://127.0.0.1:9/prod/v1", clientID: "sim", clientSecret: Secret("sim-secret"),
                retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02), timeout: 5))
        do {
            _ = try await client.groups()
            Issue.record("expected unreachable")
        } catch let error as ThingseeError {
            guard case .unreachable(_, _, let attempts) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(attempts == 2)
        }
    }

    @Test func serverClockComesFromTheDateHeader() async throws {
        try await SimulatorHarness.with({ $0.timeScale = 3600 }) { sim in
            _ = try await sim.client.groups()
            let first = sim.client.serverNow()
            try await Task.sleep(for: .milliseconds(1100))
            _ = try await sim.client.groups()
            let second = sim.client.serverNow()
            // An hour of simulated time passes each real second.
            #expect(second - first > 1800)
            #expect(sim.client.knowsServerTime)
        }
    }
}

@Suite("Token cache")
struct TokenCacheTests {
    final class Counter: @unchecked Sendable {
        // Only touched from the cache's serialised login calls.
        var logins = 0
    }

    @Test func anEarlyRejectionShortensTheAssumedLifetime() async throws {
        let cache = TokenCache()
        let counter = Counter()
        let login: @Sendable () async throws -> Secret = {
            counter.logins += 1
            return Secret("token-\(counter.logins)")
        }
        let first = try await cache.current(lifetime: 900, login: login)
        #expect(try await cache.current(lifetime: 900, login: login) == first)
        try await Task.sleep(for: .milliseconds(100))
        // The API said it expired after ~0.1 s although 900 s were assumed.
        await cache.invalidate(first)
        let second = try await cache.current(lifetime: 900, login: login)
        #expect(second != first)
        try await Task.sleep(for: .seconds(2))
        // Renewed before use, without waiting for another 401.
        let third = try await cache.current(lifetime: 900, login: login)
        #expect(third != second)
        #expect(counter.logins == 3)
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    @Test func plainHTTPOnlyToLoopback() throws {
        #expect(throws: ThingseeError.self) {
            try ClientConfiguration(baseURL: "http://example.com/prod/v1", clientID: "a", clientSecret: Secret("b"))
        }
        #expect(throws: ThingseeError.self) {
            try ClientConfiguration(baseURL: "ftp://example.com", clientID: "a", clientSecret: Secret("b"))
        }
        let https = try ClientConfiguration(
            baseURL: "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/", clientID: "a",
            clientSecret: Secret("b"))
        #expect(https.baseURL.absoluteString == "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1")
        _ = try ClientConfiguration(baseURL: "http://localhost:8080/prod/v1", clientID: "a", clientSecret: Secret("b"))
        _ = try ClientConfiguration(baseURL: "http://[::1]:8080/prod/v1", clientID: "a", clientSecret: Secret("b"))
    }

    @Test func secretsDoNotPrint() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }

    @Test func trailingSlashBaseURLStillReachesEndpoints() async throws {
        try await SimulatorHarness.with { sim in
            let client = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: sim.baseURL.absoluteString + "/", clientID: "sim", clientSecret: Secret("sim-secret")))
            #expect(try await !client.groups().isEmpty)
        }
    }
}
