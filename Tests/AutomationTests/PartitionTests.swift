import Automation
import Foundation
import Logging
import Rules
import Store
import Synchronization
import TestSupport
import Testing
import ThingseeAPI

/// A scheduler cut off from PostgreSQL by a proxy the test controls, while two others reach the database directly:
/// the partitioned one's leases run out, the others take its devices over, and it never acts on a device it no
/// longer holds. The lease clock and the schedulers' clocks are moved by hand, one `--interval` per round of
/// cycles; the partition starts at a round boundary or at an exact point of a query (see ``PartitionProxy``), so
/// nothing depends on timing.
@Suite("A scheduler partitioned from PostgreSQL")
struct PartitionTests {
    /// Fires once on every device that reports a battery level: one `send` each, countable in the command history.
    static let rules = """
        rule chatter
          when battery above 0
          then send command 1500 reportInterval=900
        """
    static let lease: Int64 = 180
    static let interval: Int64 = 60

    /// Three schedulers, each with its own API client (so each one's requests are counted apart) and its own
    /// manual clock; the third reaches the database through `proxy`.
    struct Fleet {
        let sim: SimulatorHarness
        let stores: [PostgresStore]
        let schedulers: [Scheduler]
        let clients: [ThingseeClient]
        let clocks: [ManualClock]
        let leaseTime: SharedFleetTests.LeaseTime
        /// Between s2 and the database.
        let proxy: PartitionProxy

        static func start(_ sim: SimulatorHarness, stallTimeout: Duration) async throws -> Fleet {
            let (server, database) = try await PostgresServer.sharedDatabase()
            let proxy = try PartitionProxy(upstreamPort: server.port)
            let direct = try PostgresURL.parse(server.url(database: database))
            let proxied = try PostgresURL.parse("postgres://\(server.user)@127.0.0.1:\(proxy.port)/\(database)")
            let leaseTime = SharedFleetTests.LeaseTime()
            var stores: [PostgresStore] = []
            var schedulers: [Scheduler] = []
            var clients: [ThingseeClient] = []
            var clocks: [ManualClock] = []
            for n in 0..<3 {
                let store = try await PostgresStore.open(
                    n == 2 ? proxied : direct, password: server.password, leaseClock: { leaseTime.now })
                let client = ThingseeClient(
                    configuration: try ClientConfiguration(
                        baseURL: sim.baseURL.absoluteString, clientID: sim.server.configuration.clientID,
                        clientSecret: Secret("sim-secret"),
                        retry: RetryPolicy(maxAttempts: 5, baseDelay: 0.01, maxDelay: 0.05), timeout: 10))
                let clock = ManualClock()
                var options = SchedulerOptions()
                options.concurrency = 4
                options.interval = Double(interval)
                options.stallTimeout = stallTimeout
                schedulers.append(
                    Scheduler(
                        client: client, engine: try engine(rules), store: store, options: options,
                        clock: SchedulerClock(clock),
                        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                        leases: LeaseSettings(owner: "s\(n)", seconds: lease, host: "test", pid: n)))
                stores.append(store)
                clients.append(client)
                clocks.append(clock)
            }
            return Fleet(
                sim: sim, stores: stores, schedulers: schedulers, clients: clients, clocks: clocks,
                leaseTime: leaseTime, proxy: proxy)
        }

        /// Time passes for everyone: the lease clock and each scheduler's own clock.
        func advance(by seconds: Int64) {
            leaseTime.advance(by: seconds)
            for clock in clocks { clock.advance(by: .seconds(seconds)) }
        }

        /// One cycle of each of `active`, at once; then one interval passes.
        func round(_ active: [Int]) async {
            await withTaskGroup(of: Void.self) { group in
                for scheduler in active.map({ schedulers[$0] }) {
                    group.addTask { _ = await scheduler.runCycle() }
                }
            }
            advance(by: interval)
        }

        func writes(_ n: Int) -> Int { clients[n].metrics.mutatingRequests }

        func close() async {
            proxy.stop()
            for store in stores { await store.close() }
            for client in clients { await client.shutdown() }
        }

        /// Nothing doubled, nothing lost: every device the rule fires on (by a dry run on a store of its own) has
        /// its one firing logged and carried out; each send reached the API once; the API saw as many writes as the
        /// log says were carried out; every firing a rule state counts is logged; no intent is left open.
        func expectExactlyOnce(sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
            let store = stores[0]
            #expect(try await store.openIntents().isEmpty, "intents left open", sourceLocation: sourceLocation)
            let counts = try await firingsPerPair(store)
            #expect(
                counts.values.allSatisfy { $0 == 1 }, "doubled firings: \(counts.filter { $0.value > 1 })",
                sourceLocation: sourceLocation)
            try await expectFiringsMatchState(store, sourceLocation: sourceLocation)

            let oracle = try SQLiteStore(path: temporaryDatabase())
            let dryRun = try scheduler(sim, store: oracle, rules: PartitionTests.rules) { $0.dryRun = true }
            let shouldFire = Set(await dryRun.runCycle().wouldBe.map(\.tuid))
            #expect(!shouldFire.isEmpty, sourceLocation: sourceLocation)
            let actions = try await store.actions(filter: ActionFilter(dryRun: false))
            let done = actions.filter { $0.kind == .send && $0.outcome == .done }
            #expect(
                Set(done.map(\.tuid)) == shouldFire, "lost: \(shouldFire.subtracting(done.map(\.tuid)).sorted())",
                sourceLocation: sourceLocation)
            #expect(
                done.count == actions.count, "\(actions.filter { $0.outcome != .done })", sourceLocation: sourceLocation
            )
            for record in done {
                let history = try await sim.client.commandHistory(record.tuid)
                let copies = history.filter { $0.transactionId.map(Int64.init) == record.transactionID }.count
                #expect(
                    copies == 1, "\(record.tuid): transaction \(record.transactionID ?? 0) sent \(copies) times",
                    sourceLocation: sourceLocation)
            }
            let written = (0..<3).map(writes).reduce(0, +)
            #expect(
                written == done.count, "\(written) writes reached the API for \(done.count) actions",
                sourceLocation: sourceLocation)
            #expect(await sim.server.stats.mutating == done.count, sourceLocation: sourceLocation)
        }
    }

    /// The window the database cannot fence: an intent is written under the lease, then the answer to the
    /// scheduler's last look at it (is it still open?) is held while its lease runs out and the device's new owner
    /// settles the intent. When the answer arrives, the old owner must not carry the action out again: its own
    /// clock says its lease is over.
    @Test func anAnswerHeldPastTheLeaseDoesNotLetTheOldOwnerActOnADeviceTakenOver() async throws {
        try await SimulatorHarness.with({ $0.devices = 40 }) { sim in
            // The watchdog is not what this tests: a cycle waiting on a held answer is waited for.
            let fleet = try await Fleet.start(sim, stallTimeout: .seconds(1_000_000))
            let proxy = fleet.proxy
            defer { proxy.stop() }

            // s2 starts alone and so holds every device; the moment it reads back its first logged intent (the
            // check before calling the API), its connection to the database goes quiet, the answer held.
            proxy.hold(afterClientSends: "FROM actions WHERE id = $1")
            let s2 = fleet.schedulers[2]
            let partitioned = Task { await s2.runCycle() }
            #expect(await proxy.waitUntilTriggered(), "s2 never read back an intent")
            let heldAt = fleet.leaseTime.now

            // Its leases run out; s0 and s1 take the devices over, settle s2's open intents and fire the rest.
            fleet.advance(by: Self.lease)
            for _ in 0..<3 { await fleet.round([0, 1]) }
            let holders = try await fleet.stores[0].leaseHolders()
            #expect(!holders.isEmpty && Set(holders.values).isSubset(of: ["s0", "s1"]), "\(holders)")
            let settledByOthers = try await fleet.stores[0].actions(filter: ActionFilter(dryRun: false))
                .filter { $0.outcome == .done && $0.kind == .send }
            #expect(!settledByOthers.isEmpty)

            // The partition heals: s2 hears that its intent is (was) open, with its lease long gone.
            let writesBefore = fleet.writes(2)
            proxy.heal()
            let report = await partitioned.value
            #expect(fleet.leaseTime.now - heldAt > Self.lease)
            #expect(
                fleet.writes(2) == writesBefore,
                "s2 sent \(fleet.writes(2) - writesBefore) writes after its lease ran out")
            #expect(report.heldBack > 0, "s2 held no action back: \(report.line)")

            // All three carry on; whatever s2 left open is settled by the devices' owners, once.
            for _ in 0..<4 { await fleet.round([0, 1, 2]) }
            let after = try await fleet.stores[0].leaseHolders()
            #expect(Set(after.values) == ["s0", "s1", "s2"], "s2 did not get its share back: \(after)")
            try await fleet.expectExactlyOnce()
            print(
                "partition (held answer): s2 held back \(report.heldBack) actions; writes s0 \(fleet.writes(0)), "
                    + "s1 \(fleet.writes(1)), s2 \(fleet.writes(2)); \(proxy.acceptedConnections) connections "
                    + "through the proxy")
            await fleet.close()
        }
    }

    /// The partition of the issue: the proxied scheduler's connections are cut, and new ones refused, for longer
    /// than a lease, the moment it writes its first firing; the others take its devices over within two lease
    /// lengths and carry out what it could not write; it acts on nothing meanwhile; healed, it gets its share back,
    /// and no action is doubled or lost.
    @Test func aSchedulerCutOffForLongerThanItsLeaseActsOnNothingAndRejoinsWithoutDoublingAnAction() async throws {
        try await SimulatorHarness.with({ $0.devices = 40 }) { sim in
            // A query whose connection is cut under it may never be answered: as in `tsee run`, the watchdog
            // abandons such a cycle once nothing has moved for its timeout (two intervals here, on s2's clock).
            let fleet = try await Fleet.start(sim, stallTimeout: .seconds(2 * Self.interval))
            let proxy = fleet.proxy
            defer { proxy.stop() }

            // s2 starts alone and holds every device; cut off as it writes its first firing. Its cycles go on, a
            // new one each round once the last has ended (not waited for: one may wait on the database until the
            // partition heals, or until its watchdog gives up); s0 and s1 cycle every interval.
            proxy.cut(whenClientSends: "INSERT INTO actions")
            let s2Cycle = CycleInFlight()
            s2Cycle.startIfIdle(fleet.schedulers[2])
            #expect(await proxy.waitUntilTriggered(), "s2 never wrote a firing")
            let silentSince = fleet.leaseTime.now
            let cutOff = Set(try await fleet.stores[0].leaseHolders().filter { $0.value == "s2" }.keys)
            #expect(!cutOff.isEmpty)
            var holders: [String: String] = [:]
            var takenOverAfter: Int64?
            for _ in 0..<6 {
                s2Cycle.startIfIdle(fleet.schedulers[2])
                await fleet.round([0, 1])
                holders = try await fleet.stores[0].leaseHolders()
                if takenOverAfter == nil, cutOff.allSatisfy({ holders[$0] == "s0" || holders[$0] == "s1" }) {
                    takenOverAfter = fleet.leaseTime.now - Self.interval - silentSince
                }
            }
            let after = try #require(takenOverAfter, "s2's devices were not taken over: \(holders)")
            #expect(after <= 2 * Self.lease, "taken over after \(after) s; the lease is \(Self.lease) s")
            #expect(fleet.writes(2) == 0, "s2 wrote to the API while cut off")

            proxy.heal()
            await s2Cycle.wait()
            for _ in 0..<4 { await fleet.round([0, 1, 2]) }
            holders = try await fleet.stores[0].leaseHolders()
            #expect(Set(holders.values) == ["s0", "s1", "s2"], "s2 did not get its share back: \(holders)")
            try await fleet.expectExactlyOnce()
            print(
                "partition (cut): s2's \(cutOff.count) devices taken over after \(after) s (lease \(Self.lease) s); "
                    + "writes s0 \(fleet.writes(0)), s1 \(fleet.writes(1)), s2 \(fleet.writes(2))")
            await fleet.close()
        }
    }
}

/// One scheduler's cycle run in the background, a new one started only once the last has ended.
private final class CycleInFlight: Sendable {
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let running = Mutex(false)

    func startIfIdle(_ scheduler: Scheduler) {
        let start = running.withLock { busy -> Bool in
            guard !busy else { return false }
            busy = true
            return true
        }
        guard start else { return }
        task.withLock {
            $0 = Task { [self] in
                _ = await scheduler.runCycle()
                running.withLock { $0 = false }
            }
        }
    }

    func wait() async {
        await task.withLock { $0 }?.value
    }
}
