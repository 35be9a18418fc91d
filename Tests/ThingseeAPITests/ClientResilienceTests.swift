import Foundation
import Synchronization
import TestSupport
import Testing

@testable import ThingseeAPI

@Suite("Tokens, retries, failures")
struct ClientResilienceTests {
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

}

@Suite("Token cache")
struct TokenCacheTests {
    final class Counter: Sendable {
        let logins = Mutex(0)
    }

    @Test func anEarlyRejectionShortensTheAssumedLifetime() async throws {
        let clock = ManualClock()
        let cache = TokenCache(clock: ClientClock(clock))
        let counter = Counter()
        let login: @Sendable () async throws -> Secret = {
            Secret("token-\(counter.logins.withLock { $0 += 1; return $0 })")
        }
        let first = try await cache.current(lifetime: 900, login: login)
        clock.advance(by: .seconds(100))
        #expect(try await cache.current(lifetime: 900, login: login) == first)
        // The API said it expired after 100 s although 900 s were assumed.
        cache.invalidate(first)
        let second = try await cache.current(lifetime: 900, login: login)
        #expect(second != first)
        clock.advance(by: .seconds(79))
        #expect(try await cache.current(lifetime: 900, login: login) == second)
        clock.advance(by: .seconds(2))
        // Renewed at 80 % of the learned 100 s, before use, without waiting for another 401.
        let third = try await cache.current(lifetime: 900, login: login)
        #expect(third != second)
        #expect(counter.logins.withLock { $0 } == 3)
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

    @Test(arguments: [
        "http://127.example.invalid/prod/v1", "http://127.0.0.1.evil.com/prod/v1", "http://localhost.evil.com",
        "http://127.1/prod/v1", "http://0x7f.0.0.1", "http://0177.0.0.1", "http://127.0.0.256", "http://[::2]:80",
        "http://[::ffff:10.0.0.1]", "http://128.0.0.1", "http://127.0.0.1@evil.com/prod/v1", "http://evil.com#@127.0.0.1",
    ])
    func plainHTTPIsRefusedToAnythingButALoopbackAddress(_ url: String) {
        #expect(throws: ThingseeError.self) {
            try ClientConfiguration(baseURL: url, clientID: "a", clientSecret: Secret("b"))
        }
    }

    @Test(arguments: [
        "http://127.0.0.1:8080/prod/v1", "http://127.255.255.254", "http://LOCALHOST:1/x", "http://[::1]:8080",
        "http://[0:0:0:0:0:0:0:1]/prod/v1", "http://[::ffff:127.0.0.1]:9", "https://127.example.invalid/prod/v1",
    ])
    func loopbackAddressesAndHTTPSAreAccepted(_ url: String) throws {
        _ = try ClientConfiguration(baseURL: url, clientID: "a", clientSecret: Secret("b"))
    }

    @Test func requestURLsEscapeEachSegmentAndQueryPart() throws {
        let client = ThingseeClient(
            configuration: try ClientConfiguration(
                baseURL: "http://127.0.0.1:9/prod/v1/", clientID: "a", clientSecret: Secret("b")))
        #expect(
            client.url(["groups", "a b/c?d", "things"], query: [("q", "x+y&z"), ("limit", "5")])
                == "http://127.0.0.1:9/prod/v1/groups/a%20b%2Fc%3Fd/things?q=x%2By%26z&limit=5")
        #expect(client.url(["things", "TSPD04ESY93100802"], query: []) == "http://127.0.0.1:9/prod/v1/things/TSPD04ESY93100802")
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
