import Automation
import Foundation
import Logging
import Rules
import Simulator
import Store
import Stream
import Synchronization
import TestSupport
import Testing
import ThingseeAPI

/// Every log event of a run, with its metadata flattened to text: how these tests see which messages counted,
/// from which source, and when the stream went live.
final class LogCapture: Sendable {
    struct Entry: Sendable {
        var message: String
        var metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CapturingHandler(capture: self) }
    }

    func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
    var all: [Entry] { entries.withLock { $0 } }

    func events(_ name: String) -> [Entry] { all.filter { $0.metadata["event"] == name } }

    /// The key of every message that counted, in order, with its source (`poll` or `stream`).
    var counted: [(key: String, source: String)] {
        events("message").compactMap { entry in
            guard let key = entry.metadata["key"], let source = entry.metadata["source"] else { return nil }
            return (key, source)
        }
    }
}

struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        let all = metadata.merging(explicit ?? [:]) { _, new in new }
        capture.append(LogCapture.Entry(message: message.description, metadata: all.mapValues { "\($0)" }))
    }
}

/// A simulator whose fleet publishes to a real mosquitto (as `tsee sim --mqtt` does), and a scheduler that
/// consumes that stream, on a manual clock that the tests never move unless they say so: whatever happens
/// between cycles is the stream's doing.
struct StreamFixture {
    let sim: SimulatorHarness
    let broker: Broker
    let publisher: FleetPublisher
    let logs = LogCapture()
    let clock = ManualClock()
    let path = temporaryDatabase()
    /// Stable across the restarts of one test, like the default client id of `tsee run --mqtt`.
    let clientID = "tsee-test-\(UUID().uuidString.prefix(8))"

    static let messagesRoute = "GET /things/{tuid}/messages"

    /// Simulated time runs 120 times faster than real time, so every device reports within a few seconds.
    static func with(_ body: (StreamFixture) async throws -> Void) async throws {
        let broker = try Broker()
        try await SimulatorHarness.with({
            $0.devices = 30
            $0.timeScale = 120
        }) { sim in
            let publisher = try FleetPublisher(
                server: sim.server, url: broker.url, clientID: "tsee-sim-\(UUID().uuidString.prefix(8))",
                tick: .milliseconds(50))
            try await publisher.start()
            let fixture = StreamFixture(sim: sim, broker: broker, publisher: publisher)
            do {
                try await body(fixture)
            } catch {
                await publisher.stop(drain: .zero)
                throw error
            }
            await publisher.stop(drain: .zero)
        }
    }

    /// A scheduler with the stream, on this fixture's database, clock, log and client id.
    func scheduler(
        rules: String, clientID: String? = nil, configure: (inout SchedulerOptions) -> Void = { _ in }
    ) throws -> Scheduler {
        var options = SchedulerOptions()
        options.concurrency = 4
        options.interval = 60
        // The first backfill reads only the last simulated second: what the tests look at comes later.
        options.lookback = 1
        // A message older than the device's cursor less `overlap` does not count (`DeviceSnapshot.admit`). The
        // default ten minutes are five real seconds of this fleet's 120× time: a broker restart on a loaded machine
        // can deliver or backfill a message later than that, after newer ones moved the cursor on. An hour (30 real
        // seconds) keeps the test's proportions those of a real deployment, where reconnecting takes seconds.
        options.overlap = 3_600
        options.stallTimeout = .seconds(1_000_000_000)
        configure(&options)
        var configuration = try StreamConfiguration(url: broker.url, clientID: clientID ?? self.clientID)
        configuration.reconnectDelay = .milliseconds(50)
        configuration.maximumReconnectDelay = .milliseconds(200)
        return Scheduler(
            client: sim.client, engine: try engine(rules), store: try SQLiteStore(path: path), options: options,
            clock: SchedulerClock(clock), apiTime: SimulatedTime(server: sim.server), logger: logs.logger,
            stream: StreamSource(configuration: configuration, logger: logs.logger))
    }

    var messagePolls: Int {
        get async { await sim.server.stats.byRoute[Self.messagesRoute] ?? 0 }
    }

    var cyclesFinished: Int { logs.events("cycle").count }

    /// Waits until the stream of the `n`th connection counts: its backfill cycle is done (and has been logged).
    func waitUntilLive(_ n: Int = 1) async throws {
        try await eventually {
            let all = logs.all
            let live = all.indices.filter { all[$0].metadata["event"] == "stream-live" }
            guard live.count >= n else { return false }
            return all[live[n - 1]...].contains { $0.metadata["event"] == "cycle" }
        }
    }

    /// Simulated seconds (Unix) now.
    var simulatedNow: Int64 { Int64(sim.server.now.timeIntervalSince1970) }

    /// Waits until simulated time has moved `seconds` on and the publisher has published through it.
    func waitForSimulatedTime(_ seconds: Int64) async throws {
        let target = Double(simulatedNow + seconds)
        try await eventually { (await publisher.publishedThrough ?? 0) >= target }
    }

    /// Waits (up to a minute) until every message the REST API has for `tuids` in `[from, through]` has counted;
    /// records the missing ones otherwise.
    func waitUntilCounted(
        _ tuids: [String], from: Int64, through: Int64, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var missing: Set<String> = []
        repeat {
            missing = try await restKeys(tuids, from: from, through: through).subtracting(logs.counted.map(\.key))
            if missing.isEmpty { return }
            try await Task.sleep(for: .milliseconds(50))
        } while ContinuousClock.now < deadline
        Issue.record("never counted: \(missing.sorted())", sourceLocation: sourceLocation)
    }

    /// The keys of the REST history of `tuids` with `tsmTs` in `[from, through]`, as the API has them now.
    func restKeys(_ tuids: [String], from: Int64, through: Int64) async throws -> Set<String> {
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

/// The simulator's own clock as the API's: between requests the client can only extrapolate the `Date` header at
/// real speed, and the fleet here runs 120 times faster.
struct SimulatedTime: APITime {
    let server: SimulatorServer
    func now() -> Int64 { Int64(server.now.timeIntervalSince1970) }
}

/// Environment devices: they report `temp`, which the rules below read.
func environmentDevices(_ sim: SimulatorHarness) -> [String] {
    sim.server.deviceTUIDs().filter { $0.hasPrefix("TSPD") || $0.hasPrefix("TSEN") }
}

/// One firing per environment device, the first time its temperature is known.
let seenRule = """
    rule seen: when temp > -100 then log "{tuid} at {temp}"
    """

@Suite("tsee run --mqtt: the scheduler on a real broker's stream", .serialized)
struct StreamSchedulerTests {
    @Test func aMessageIsActedOnAsItArrivesAndMessagesAreNotPolledWhileTheStreamIsUp() async throws {
        try await StreamFixture.with { f in
            let run = try f.scheduler(rules: seenRule)
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            let pollsWhenLive = await f.messagePolls
            #expect(pollsWhenLive > 0, "the backfill polled every device")
            let firingsAtLive = try await firingsPerPair(f.store).count
            let cyclesAtLive = f.cyclesFinished

            // No cycle runs after the backfill (the manual clock stands still): only the stream can bring the
            // messages that make devices fire now.
            try await eventually { try await firingsPerPair(f.store).count >= firingsAtLive + 3 }
            #expect(f.cyclesFinished == cyclesAtLive)
            #expect(f.logs.counted.contains { $0.source == "stream" })
            #expect(await f.messagePolls == pollsWhenLive, "no message was polled while the stream was up")

            // A regular cycle while the stream is up fetches what it needs but the messages.
            await f.clock.waitForSleepers(count: 1)
            f.clock.advance(by: .seconds(60))
            try await eventually { f.cyclesFinished > cyclesAtLive }
            #expect(await f.messagePolls == pollsWhenLive)
            let summary = try #require(f.logs.events("cycle").last?.metadata["summary"])
            #expect(summary.contains("stream live"), "\(summary)")

            await run.requestStop()
            #expect(await running.value == .stopped)
            try await expectFiringsMatchState(f.store)
            #expect(try await firingsPerPair(f.store).values.allSatisfy { $0 == 1 })
        }
    }

    /// After a step, the stream's next arrivals gather for `streamGather` and share one step (its fixed cost paid
    /// once): on the manual clock, no step runs while the fleet publishes, and one takes everything once it moves.
    @Test func arrivalsAfterAStepGatherForTheWindowAndShareTheNextStep() async throws {
        try await StreamFixture.with { f in
            let run = try f.scheduler(rules: seenRule) { $0.streamGather = .seconds(30) }
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            let cyclesAtLive = f.cyclesFinished
            try await eventually { !f.logs.events("stream-step").isEmpty }
            // The step is followed by the gather wait: the one sleeper on the clock.
            await f.clock.waitForSleepers(count: 1)
            let steps = f.logs.events("stream-step").count
            let countedBefore = f.logs.counted.count
            // Four simulated minutes of the fleet's messages, published and delivered meanwhile: no step takes them.
            try await f.waitForSimulatedTime(240)
            #expect(f.logs.events("stream-step").count == steps)
            #expect(f.logs.counted.count == countedBefore)
            f.clock.advance(by: .seconds(30))
            try await eventually { f.logs.events("stream-step").count > steps }
            let next = f.logs.events("stream-step")[steps]
            #expect(Int(next.metadata["devices"] ?? "") ?? 0 > 1, "\(next.metadata)")
            #expect(f.cyclesFinished == cyclesAtLive, "the window ended before the next cycle was due")
            await run.requestStop()
            #expect(await running.value == .stopped)
            try await expectFiringsMatchState(f.store)
        }
    }

    /// A stream step reads a due installation status itself when a condition needs it, and acts on it at once.
    @Test func aStreamStepReadsTheInstallationStatusWhenTheConditionNeedsIt() async throws {
        try await StreamFixture.with { f in
            let tuids = environmentDevices(f.sim)
            _ = try await f.sim.client.setInstallationStatus(tuids[0], .uninstalled)
            let run = try f.scheduler(rules: "rule seen-installed: when temp > -100 and status is installed then log \"{tuid}\"")
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            let firingsAtLive = try await firingsPerPair(f.store).count
            let route = "GET /things/{tuid}/installations"
            let readsAtLive = await f.sim.server.stats.byRoute[route] ?? 0
            // The manual clock stands still: only stream steps can read the statuses and fire.
            try await eventually { try await firingsPerPair(f.store).count >= firingsAtLive + 3 }
            #expect(await f.sim.server.stats.byRoute[route] ?? 0 > readsAtLive)
            await run.requestStop()
            #expect(await running.value == .stopped)
            let fired = try await firingsPerPair(f.store)
            #expect(fired["seen-installed \(tuids[0])"] == nil, "an uninstalled device fired")
            #expect(fired.values.allSatisfy { $0 == 1 })
        }
    }

    @Test func aBrokerRestartLosesNothingAndCountsNothingTwice() async throws {
        try await StreamFixture.with { f in
            let start = f.simulatedNow - 1
            let run = try f.scheduler(rules: seenRule)
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            try await eventually { f.logs.counted.filter { $0.source == "stream" }.count >= 5 }

            // The broker goes away while the fleet goes on reporting (to the REST API; the publisher's QoS 1
            // messages wait in its client).
            f.broker.stop()
            try await eventually { !f.logs.events("stream-disconnected").isEmpty }
            try await f.waitForSimulatedTime(300)
            // Meanwhile the cycles poll the messages, as without a stream.
            let pollsWhileDown = await f.messagePolls
            let cyclesWhileDown = f.cyclesFinished
            await f.clock.waitForSleepers(count: 1)
            f.clock.advance(by: .seconds(60))
            try await eventually { f.cyclesFinished > cyclesWhileDown }
            #expect(await f.messagePolls > pollsWhileDown, "messages were polled while the stream was down")
            try await f.waitForSimulatedTime(300)

            // Back: the gap is backfilled, then the stream counts again.
            try f.broker.start()
            try await f.waitUntilLive(2)
            let checked = f.simulatedNow + 60
            try await f.waitForSimulatedTime(120)
            try await f.waitUntilCounted(environmentDevices(f.sim), from: start, through: checked)
            await run.requestStop()
            #expect(await running.value == .stopped)

            let counted = f.logs.counted.map(\.key)
            #expect(counted.count == Set(counted).count, "a message counted twice: \(duplicates(counted))")
            #expect(Set(f.logs.counted.map(\.source)) == ["poll", "stream"])
            let firings = try await firingsPerPair(f.store)
            #expect(!firings.isEmpty && firings.values.allSatisfy { $0 == 1 }, "\(firings)")
            try await expectFiringsMatchState(f.store)
        }
    }

    @Test func messagesThatNeverReachedTheBrokerAreBackfilledAfterAReconnection() async throws {
        try await StreamFixture.with { f in
            let start = f.simulatedNow - 1
            let run = try f.scheduler(rules: seenRule) { $0.lookback = 3_600 }
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            let cycles = f.cyclesFinished

            // Publisher and broker down: what the fleet reports meanwhile reaches the REST API only, and no cycle
            // runs (the manual clock stands still) to poll it.
            await f.publisher.stop(drain: .zero)
            f.broker.stop()
            try await eventually { !f.logs.events("stream-disconnected").isEmpty }
            let down = f.simulatedNow
            try await eventually { f.simulatedNow >= down + 300 }
            try f.broker.start()
            let publisher = try FleetPublisher(
                server: f.sim.server, url: f.broker.url, clientID: "tsee-sim-again", tick: .milliseconds(50))
            try await publisher.start()
            try await f.waitUntilLive(2)
            #expect(f.cyclesFinished == cycles + 1, "one cycle ran: the backfill on reconnection")
            try await f.waitUntilCounted(environmentDevices(f.sim), from: start, through: down + 300)
            await run.requestStop()
            _ = await running.value
            await publisher.stop(drain: .zero)
            let counted = f.logs.counted.map(\.key)
            #expect(counted.count == Set(counted).count, "a message counted twice: \(duplicates(counted))")
            try await expectFiringsMatchState(f.store)
        }
    }

    @Test func anEchoIsConfirmedFromTheStream() async throws {
        try await StreamFixture.with { f in
            let offline = Set(f.sim.server.alertingTUIDs())
            let tuid = try #require(environmentDevices(f.sim).first { !offline.contains($0) })
            let rules = """
                rule tune
                  on \(tuid)
                  when temp > -100
                  then send command 1500 reportInterval=120
                """
            let run = try f.scheduler(rules: rules)
            let running = Task { await run.run() }
            try await f.waitUntilLive()
            let pollsWhenLive = await f.messagePolls
            let cyclesAtLive = f.cyclesFinished

            try await eventually {
                try await f.store.actions(filter: ActionFilter(dryRun: false)).first?.confirmedAt != nil
            }
            let record = try #require(try await f.store.actions(filter: ActionFilter(dryRun: false)).first)
            #expect(record.kind == .send && record.outcome == .done && record.tuid == tuid)
            #expect(await f.messagePolls == pollsWhenLive, "the echo was not polled")
            #expect(f.cyclesFinished == cyclesAtLive)
            #expect(f.logs.counted.contains { $0.key.hasPrefix("\(tuid):1500:31:") && $0.source == "stream" })
            await run.requestStop()
            _ = await running.value
        }
    }

    /// With the same client id the broker holds what was published meanwhile; with a new one (a lost session) only
    /// the REST backfill can bring it.
    @Test(arguments: [true, false])
    func aRestartOfTseeLosesNothingPublishedMeanwhileAndCountsNothingTwice(sameSession: Bool) async throws {
        try await StreamFixture.with { f in
            let start = f.simulatedNow - 1
            // A device not heard from since the look-back is read from the look-back again: an hour covers the test.
            let first = try f.scheduler(rules: seenRule) { $0.lookback = 3_600 }
            let running = Task { await first.run() }
            try await f.waitUntilLive()
            try await eventually { f.logs.counted.filter { $0.source == "stream" }.count >= 5 }
            await first.requestStop()
            #expect(await running.value == .stopped)

            // Down for five simulated minutes; the broker keeps the session's messages.
            try await f.waitForSimulatedTime(300)
            let second = try f.scheduler(rules: seenRule, clientID: sameSession ? nil : "tsee-test-new-session") {
                $0.lookback = 3_600
            }
            let again = Task { await second.run() }
            try await f.waitUntilLive(2)
            let checked = f.simulatedNow + 60
            try await f.waitForSimulatedTime(120)
            try await f.waitUntilCounted(environmentDevices(f.sim), from: start, through: checked)
            await second.requestStop()
            _ = await again.value

            let counted = f.logs.counted.map(\.key)
            #expect(counted.count == Set(counted).count, "a message counted twice: \(duplicates(counted))")
            let firings = try await firingsPerPair(f.store)
            #expect(!firings.isEmpty && firings.values.allSatisfy { $0 == 1 }, "\(firings)")
            try await expectFiringsMatchState(f.store)
        }
    }
}

extension StreamFixture {
    var store: SQLiteStore {
        get throws { try SQLiteStore(path: path) }
    }
}

func duplicates(_ keys: [String]) -> [String] {
    var seen: Set<String> = []
    return keys.filter { !seen.insert($0).inserted }
}
