import Automation
import Foundation
import Logging
import Store
import Synchronization
import TestSupport
import Testing
import ThingseeAPI

/// Several schedulers on one PostgreSQL database share a simulated fleet through device leases. The lease clock is
/// moved by hand, one `--interval` per round of cycles: nothing waits on the wall clock.
@Suite("Schedulers sharing a fleet on PostgreSQL")
struct SharedFleetTests {
    final class LeaseTime: Sendable {
        private let seconds = Mutex<Int64>(1_700_000_000)
        var now: Int64 { seconds.withLock { $0 } }
        func advance(by delta: Int64) { seconds.withLock { $0 += delta } }
    }

    @Test func threeSchedulersShareAThousandDevicesAndTakeOverFromAKilledOneWithoutDoublingAnAction() async throws {
        let (server, database) = try await PostgresServer.sharedDatabase()
        let url = try PostgresURL.parse(server.url(database: database))
        let leaseTime = LeaseTime()
        let lease: Int64 = 180
        let interval: Int64 = 60
        try await SimulatorHarness.with({ $0.devices = 1_000 }) { sim in
            var stores: [PostgresStore] = []
            var built: [Scheduler] = []
            for n in 0..<3 {
                let store = try await PostgresStore.open(url, password: server.password, leaseClock: { leaseTime.now })
                stores.append(store)
                var options = SchedulerOptions()
                options.concurrency = 8
                built.append(
                    Scheduler(
                        client: sim.client, engine: try engine(designCard), store: store, options: options,
                        clock: SchedulerClock(ManualClock()),
                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                        leases: LeaseSettings(owner: "s\(n)", seconds: lease, host: "test", pid: n)))
            }
            let schedulers = built
            /// One cycle of each active scheduler, at once; then one interval passes.
            func round(_ active: [Int]) async {
                await withTaskGroup(of: Void.self) { group in
                    for scheduler in active.map({ schedulers[$0] }) {
                        group.addTask { _ = await scheduler.runCycle() }
                    }
                }
                leaseTime.advance(by: interval)
            }
            let fleet = Set(try await sim.allDevices())
            #expect(fleet.count == 1_000)

            for _ in 0..<4 { await round([0, 1, 2]) }
            var holders = try await stores[0].leaseHolders()
            #expect(Set(holders.keys) == fleet, "every device is held")
            let perOwner = Dictionary(grouping: holders.values, by: { $0 }).mapValues(\.count)
            #expect(perOwner.count == 3)
            #expect(perOwner.values.allSatisfy { $0 <= 334 && $0 >= 300 }, "\(perOwner)")

            // s2 dies: it was carrying out an action (logged as an intent, not yet sent) and never cycles again.
            // Not one already in quarantine (its own low battery may have moved it there): the new owner would find
            // the move applied and settle it without a request, and the count of requests below would be one short.
            var candidate: String?
            for (tuid, owner) in holders.sorted(by: { $0.key < $1.key }) where owner == "s2" && !tuid.hasPrefix("TSGW") {
                if try await sim.client.installations(tuid, limit: 1).first?.installationStatus != "quarantine" {
                    candidate = tuid
                    break
                }
            }
            let victim = try #require(candidate)
            let open = try await stores[2].recordIntents([
                ActionIntent(
                    time: leaseTime.now, rule: "manual", tuid: victim, sequence: 1, actionIndex: 0, kind: .move,
                    parameters: ActionCall.move(status: "quarantine").parametersJSON, dryRun: false)
            ])
            let lost = Set(holders.filter { $0.value == "s2" }.keys)
            let silentSince = leaseTime.now - interval
            var takenOverAfter: Int64?
            for _ in 0..<8 {
                await round([0, 1])
                holders = try await stores[0].leaseHolders()
                if lost.allSatisfy({ holders[$0] == "s0" || holders[$0] == "s1" }) {
                    takenOverAfter = leaseTime.now - interval - silentSince
                    break
                }
            }
            let after = try #require(takenOverAfter, "s2's devices were not taken over")
            #expect(after <= 2 * lease, "taken over after \(after) s; the lease is \(lease) s")
            #expect(Set(holders.keys) == fleet)
            #expect(Set(holders.values) == ["s0", "s1"])
            await round([0, 1])

            // The new owner settled s2's open intent, once.
            let settled = try #require(try await stores[0].action(id: open[0]))
            #expect(settled.outcome == .done)
            #expect(try await sim.client.installations(victim).first?.installationStatus == "quarantine")
            #expect(try await stores[0].openIntents().isEmpty)

            // No firing carried out twice: one logged firing per (rule, device), and as many mutating requests
            // reached the API as actions were carried out.
            let counts = try await firingsPerPair(stores[0])
            #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts.filter { $0.value > 1 })")
            let actions = try await stores[0].actions(filter: ActionFilter(dryRun: false))
            let carriedOut = actions.filter { $0.outcome == .done && $0.kind != .log }.count
            #expect(carriedOut > 0)
            #expect(await sim.server.stats.mutating == carriedOut)
            for record in actions where record.kind == .send {
                let history = try await sim.client.commandHistory(record.tuid)
                #expect(history.filter { $0.transactionId.map(Int64.init) == record.transactionID }.count == 1)
            }
            print(
                "shared fleet: 1000 devices held \(perOwner.values.sorted()); s2's \(lost.count) taken over after "
                    + "\(after) s (lease \(lease) s, interval \(interval) s); \(carriedOut) actions carried out, "
                    + "\(await sim.server.stats.mutating) mutating requests")
            for store in stores { await store.close() }
        }
    }
}
