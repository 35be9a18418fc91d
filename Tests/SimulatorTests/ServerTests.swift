import Foundation
import Simulator
import Testing

@Suite("Server lifecycle")
struct ServerTests {
    /// Polls the server's counters until `condition` holds: the test waits for a request to arrive, not for time.
    private func waitUntil(_ server: SimulatorServer, _ condition: (SimulatorStats) -> Bool) async throws {
        while !condition(await server.stats) {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func stopCutsOffAnswersInFlightAndFreesThePort() async throws {
        var configuration = SimulatorConfiguration()
        configuration.devices = 10
        configuration.latencyMs = 600_000
        let server = SimulatorServer(configuration: configuration)
        let base = try await server.start()
        #expect(base.path == "/prod/v1")
        #expect(base.port.map { $0 > 0 } == true)
        let pending = Task { try await TestClient(base: base).get("/groups").status }
        try await waitUntil(server) { $0.total == 1 }
        await server.stop()
        // The request waiting out its ten minutes of latency was cut off, not answered.
        let outcome = await pending.result
        if case .success(let status) = outcome {
            #expect(status >= 500, "a cut-off request must not look like an answer")
        }
        // Nothing listens any more.
        await #expect(throws: (any Error).self) { _ = try await TestClient(base: base).get("/groups").status }
    }

    @Test func stopIsIdempotentAndStartReturnsTheSameURLWhileRunning() async throws {
        let server = SimulatorServer(configuration: SimulatorConfiguration())
        let first = try await server.start()
        let again = try await server.start()
        #expect(first == again)
        await server.stop()
        await server.stop()
    }

    @Test func aPortInUseFailsStart() async throws {
        let first = SimulatorServer(configuration: SimulatorConfiguration())
        let base = try await first.start()
        var configuration = SimulatorConfiguration()
        configuration.port = UInt16(try #require(base.port))
        let second = SimulatorServer(configuration: configuration)
        await #expect(throws: (any Error).self) { _ = try await second.start() }
        await first.stop()
    }
}
