import Automation
import Foundation
import Logging
import Simulator
import Store
import Stream
import Synchronization
import TestSupport
import Testing
import ThingseeAPI

/// Two schedulers on one PostgreSQL database share a simulated fleet through device leases and the stream through an
/// MQTT shared subscription on a real mosquitto: the broker hands each message to one of them, each acts only on
/// the devices it holds, and its cycles poll what the broker handed to the other. Scheduler clocks and the lease
/// clock move only when the test says so; the fleet reports on its own (simulated time, 120 × real time).
@Suite("tsee run --mqtt on PostgreSQL: a shared subscription")
struct SharedStreamTests {
    final class LeaseTime: Sendable {
        private let seconds = Mutex<Int64>(1_700_000_000)
        var now: Int64 { seconds.withLock { $0 } }
        func advance(by delta: Int64) { seconds.withLock { $0 += delta } }
    }

    struct Member {
        let scheduler: Scheduler
        let store: PostgresStore
        let clock: ManualClock
        let logs: LogCapture
        let owner: String

        var cycles: Int { logs.events("cycle").count }

        /// The keys this process's stream brought: counted, or dropped as another process's.
        var streamKeys: Set<String> {
            Set(
                logs.all.compactMap { entry in
                    let event = entry.metadata["event"]
                    let fromStream = event == "not-held" || (event == "message" && entry.metadata["source"] == "stream")
                    return fromStream ? entry.metadata["key"] : nil
                })
        }
    }

    @Test func twoSchedulersSplitTheStreamAndEveryMessageCountsOnceAtItsOwner() async throws {
        let (server, database) = try await PostgresServer.sharedDatabase()
        let url = try PostgresURL.parse(server.url(database: database))
        let broker = try Broker()
        let leaseTime = LeaseTime()
        let group = "tsee-test-\(UUID().uuidString.prefix(8))"
        try await SimulatorHarness.with({
            $0.devices = 30
            $0.timeScale = 120
        }) { sim in
            let publisher = try FleetPublisher(
                server: sim.server, url: broker.url, clientID: "tsee-sim-\(UUID().uuidString.prefix(8))",
                tick: .milliseconds(50))
            try await publisher.start()
            var built: [Member] = []
            for n in 0..<2 {
                let store = try await PostgresStore.open(url, password: server.password, leaseClock: { leaseTime.now })
                var options = SchedulerOptions()
                options.concurrency = 4
                options.interval = 60
                // A device not heard from yet is polled from the look-back: an hour of this fleet's time covers the test.
                options.lookback = 3_600
                // The owner's poll reads from the device's cursor less `overlap`, and the stream moves that cursor on
                // meanwhile: the poll must come within `overlap` of a message the other process dropped. The default
                // ten minutes are ten 60 s intervals in real time, but five seconds of this fleet's 120 × time.
                options.overlap = 3_600
                options.stallTimeout = .seconds(1_000_000_000)
                var stream = try StreamConfiguration(url: broker.url, clientID: "tsee-share-\(n)-\(group)")
                stream.reconnectDelay = .milliseconds(50)
                stream = try stream.shared(group: group)
                let clock = ManualClock()
                let logs = LogCapture()
                built.append(
                    Member(
                        scheduler: Scheduler(
                            client: sim.client, engine: try engine(seenRule), store: store, options: options,
                            clock: SchedulerClock(clock), apiTime: SimulatedTime(server: sim.server),
                            logger: logs.logger, stream: StreamSource(configuration: stream, logger: logs.logger),
                            leases: LeaseSettings(owner: "s\(n)", seconds: 180, host: "test", pid: n)),
                        store: store, clock: clock, logs: logs, owner: "s\(n)"))
            }
            let members = built
            // The first process alone holds every device and counts their stream messages, among them devices it
            // will give up to the second (the last in order): those must be saved before they change hands.
            let givenUp = Set(try await sim.allDevices().sorted().suffix(15))
            var runs: [Task<Scheduler.Ending, Never>] = []
            let first = members[0].scheduler
            runs.append(Task { await first.run() })
            try await eventually {
                Set(members[0].logs.counted.filter { $0.source == "stream" }.map { String($0.key.prefix { $0 != ":" }) })
                    .intersection(givenUp).count >= 5
            }
            let second = members[1].scheduler
            runs.append(Task { await second.run() })
            try await eventually { members[1].cycles >= 1 }
            /// One interval: every scheduler runs one more cycle.
            func round() async throws {
                leaseTime.advance(by: 60)
                let before = members.map(\.cycles)
                for member in members {
                    await member.clock.waitForSleepers(count: 1)
                    member.clock.advance(by: .seconds(60))
                }
                for (member, count) in zip(members, before) { try await eventually { member.cycles > count } }
            }
            var holders: [String: String] = [:]
            for _ in 0..<6 {
                try await round()
                holders = try await members[0].store.leaseHolders()
                let shares = Dictionary(grouping: holders.values, by: { $0 }).mapValues(\.count)
                if shares.count == 2, shares.values.allSatisfy({ $0 == 15 }) { break }
            }
            let fleet = Set(try await sim.allDevices())
            #expect(Set(holders.keys) == fleet && Set(holders.values) == ["s0", "s1"], "\(holders)")
            for member in members {
                try await eventually { !member.logs.events("stream-live").isEmpty }
            }

            // Leases settled: five simulated minutes of the fleet's reports, then one round of cycles, whose polls
            // bring each owner what the broker handed to the other process.
            let from = Int64(sim.server.now.timeIntervalSince1970)
            let target = Double(from + 300)
            try await eventually { (await publisher.publishedThrough ?? 0) >= target }
            let through = Int64(target)
            try await round()
            let expected = try await restKeys(sim, environmentDevices(sim), from: from, through: through)
            try await eventually {
                let counted = members.flatMap { $0.logs.counted.map(\.key) }
                return expected.isSubset(of: counted)
            }
            for member in members { await member.scheduler.requestStop() }
            for run in runs { #expect(await run.value == .stopped) }
            await publisher.stop(drain: .zero)

            // The broker split the stream: each process received part of it, and no message reached both.
            let received = members.map(\.streamKeys)
            #expect(received.allSatisfy { !$0.isEmpty })
            #expect(received[0].isDisjoint(with: received[1]), "\(received[0].intersection(received[1]).count) twice")
            // Nothing lost, nothing counted twice, and each message of the settled window counted by its owner,
            // from either source.
            let counted = members.flatMap { $0.logs.counted.map(\.key) }
            #expect(expected.isSubset(of: counted), "never counted: \(expected.subtracting(counted).sorted())")
            #expect(counted.count == Set(counted).count, "a message counted twice: \(duplicates(counted))")
            for member in members {
                let foreign = member.logs.counted.map(\.key).filter { key in
                    expected.contains(key) && holders[String(key.prefix { $0 != ":" })] != member.owner
                }
                #expect(foreign.isEmpty, "\(member.owner) counted another's messages: \(foreign)")
            }
            let sources = Set(members.flatMap { $0.logs.counted.filter { expected.contains($0.key) }.map(\.source) })
            #expect(sources == ["poll", "stream"], "the stream brought some, the polls the other process's share")
            let firings = try await firingsPerPair(members[0].store)
            #expect(!firings.isEmpty && firings.values.allSatisfy { $0 == 1 }, "\(firings)")
            try await expectFiringsMatchState(members[0].store)
            for member in members { await member.store.close() }
        }
    }

    /// The keys of the REST history of `tuids` with `tsmTs` in `[from, through]`.
    func restKeys(_ sim: SimulatorHarness, _ tuids: [String], from: Int64, through: Int64) async throws -> Set<String> {
        var keys: Set<String> = []
        for tuid in tuids {
            for message in try await sim.client.allMessages(tuid, from: from, to: through)
            where message.tsmTs >= from && message.tsmTs <= through {
                keys.insert(message.deduplicationKey)
            }
        }
        return keys
    }
}
