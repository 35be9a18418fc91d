import Foundation
import Store
import TestSupport
import Testing

@testable import Automation

/// Alerts cost a request per device. The scheduler asks who is alerting first (`GET /things/alerts`) and reads the
/// alerts of those devices only; on a deployment without that call (403 from API Gateway, or 404) it reads every
/// device's, and stops asking.
@Suite("Fleet-wide alert calls")
struct FleetAlertTests {
    static let rules = """
        rule lost
          when alert "gateway connection lost"
          then log "{tuid} lost"
        """

    @Test func alertsAreReadForAlertingDevicesOnlyAndForEveryDeviceWhereTheFleetCallIsMissing() async throws {
        var fired: [Set<String>] = []
        for offered in [true, false] {
            try await SimulatorHarness.with({
                $0.devices = 200
                $0.fleetAlertCalls = offered
            }) { sim in
                let alerting = Set(sim.server.alertingTUIDs())
                try #require(!alerting.isEmpty)
                let store = try SQLiteStore(path: temporaryDatabase())
                let run = try scheduler(sim, store: store, rules: Self.rules)
                let first = await run.runCycle()
                let second = await run.runCycle()
                #expect(first.errors == 0 && second.errors == 0)
                #expect(first.devices == 200)
                let byRoute = await sim.server.stats.byRoute
                let perDevice = byRoute["GET /things/{tuid}/alerts"] ?? 0
                if offered {
                    // Each cycle: the list, then the alerting devices' alerts (open episodes are re-read).
                    #expect(byRoute["GET /things/alerts"] == 2)
                    #expect(perDevice == 2 * alerting.count)
                } else {
                    // Asked once; then every device's alerts, which the second cycle holds as fresh (`--refresh`).
                    #expect(byRoute["GET /things/alerts"] == 1)
                    #expect(perDevice == 200)
                }
                fired.append(Set(try await firingsPerPair(store).keys))
                #expect(fired.last?.count == alerting.count)
            }
        }
        #expect(fired[0] == fired[1])
    }
}
