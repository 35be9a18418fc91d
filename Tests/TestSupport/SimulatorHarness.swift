import Foundation
import Simulator
import ThingseeAPI

/// A simulator on 127.0.0.1:0 and a client logged in to it, for one test.
public struct SimulatorHarness {
    public let server: SimulatorServer
    public let client: ThingseeClient
    public let baseURL: URL

    public static func start(
        _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
        retry: RetryPolicy = RetryPolicy(maxAttempts: 5, baseDelay: 0.01, maxDelay: 0.05),
        secret: String = "sim-secret",
        clock: any Clock<Duration> = ContinuousClock()
    ) async throws -> SimulatorHarness {
        var configuration = SimulatorConfiguration()
        configuration.devices = 30
        configuration.seed = 7
        configure(&configuration)
        let server = SimulatorServer(configuration: configuration)
        let url = try await server.start()
        let client = ThingseeClient(
            configuration: try ClientConfiguration(
                baseURL: url.absoluteString, clientID: configuration.clientID, clientSecret: Secret(secret),
                retry: retry, timeout: 10),
            clock: clock)
        return SimulatorHarness(server: server, client: client, baseURL: url)
    }

    public func stop() async {
        await client.shutdown()
        await server.stop()
    }

    /// Every device of every group, `unassigned` included.
    public func allDevices() async throws -> [String] {
        var tuids: [String] = []
        for group in try await client.groups().map(\.groupId) + ["unassigned"] {
            tuids += try await client.groupThings(group).tuids
        }
        return Array(Set(tuids)).sorted()
    }

    /// Runs `body` with a started harness and always stops the server.
    public static func with<T>(
        _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
        retry: RetryPolicy = RetryPolicy(maxAttempts: 5, baseDelay: 0.01, maxDelay: 0.05),
        secret: String = "sim-secret",
        clock: any Clock<Duration> = ContinuousClock(),
        _ body: (SimulatorHarness) async throws -> T
    ) async throws -> T {
        let harness = try await start(configure, retry: retry, secret: secret, clock: clock)
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }
}
