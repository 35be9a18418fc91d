import Automation
import Foundation
import Logging
import Rules
import Simulator
import Store
import Stream
import Synchronization
import TestSupport
import ThingseeAPI

/// `tsee run --mqtt` under load: a real mosquitto, the simulator's fleet of 10,000 devices behind the REST API, and
/// messages published on the data integration topics at a fixed rate. What is measured, per message: from the
/// moment it is handed to the publishing client to the end of the stream step that evaluated it — its firing
/// written and its action carried out (a `log` action: the intent and its completion in SQLite).
///
/// The rule fires on a device's hot report, and the temperature alternates from one round over the fleet to the next:
/// at 10,000 devices and 10,000 messages every message is a device's first report, so every one costs a firing
/// transaction (the worst case). CPU is the whole process's (scheduler, publisher and both MQTT clients; the broker is
/// another process) over the measured window, divided by the messages.
enum StreamBenchmark {
    static func measure(into report: Report, quick: Bool, workDirectory: String) async throws {
        let devices = quick ? 2_000 : 10_000
        let rate = 1_000
        let seconds = quick ? 5 : 10
        log("stream: \(devices) devices, \(rate) messages/s for \(seconds) s")
        let broker = try Broker()
        var configuration = SimulatorConfiguration()
        configuration.devices = devices
        configuration.seed = 1
        let server = SimulatorServer(configuration: configuration)
        let url = try await server.start()
        let client = ThingseeClient(
            configuration: try ClientConfiguration(
                baseURL: url.absoluteString, clientID: "sim", clientSecret: Secret("sim-secret"), concurrency: 16))
        let groups = try await client.groups().map(\.groupId) + ["unassigned"]
        var fleet: [(tuid: String, group: String)] = []
        for group in groups { fleet += try await client.groupThings(group).tuids.map { ($0, group) } }

        let steps = StepClock()
        var options = SchedulerOptions()
        options.concurrency = 16
        options.lookback = 1
        let rules = "rule hot: when temp > 20 then log \"{tuid} hot\""
        let (ruleSet, _) = RuleSet.parse(file: "bench.rules", text: rules)
        let stream = try StreamConfiguration(url: broker.url, clientID: "tsee-bench-stream")
        let logger = Logger(label: "bench") { _ in StepHandler(clock: steps) }
        let scheduler = Scheduler(
            client: client, engine: Engine(ruleSet), store: try SQLiteStore(path: workDirectory + "/stream.db"),
            options: options, logger: logger, stream: StreamSource(configuration: stream, logger: logger))
        let running = Task { await scheduler.run() }
        let liveDeadline = ContinuousClock.now + .seconds(600)
        while !steps.isLive, ContinuousClock.now < liveDeadline { try await Task.sleep(for: .milliseconds(50)) }
        guard steps.isLive else {
            log("stream: the backfill of \(devices) devices did not finish in 10 minutes")
            return
        }

        let publisher = StreamPublisher(configuration: try StreamConfiguration(url: broker.url, clientID: "tsee-bench-pub"))
        try await publisher.start()
        _ = await publisher.waitUntilConnected(timeout: .seconds(10))
        let requestsBefore = await server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0
        let cpuBefore = processCPUSeconds()
        let total = rate * seconds
        let start = ContinuousClock.now
        var sent: [String: ContinuousClock.Instant] = [:]
        sent.reserveCapacity(total)
        let now = Int64(server.now.timeIntervalSince1970)
        for i in 0..<total {
            // Paced in slices of 10 ms, so the rate holds over any second.
            let due = start + .milliseconds(i * 1000 / rate)
            if ContinuousClock.now < due { try await Task.sleep(until: due, clock: .continuous) }
            let device = fleet[i % fleet.count]
            let round = i / fleet.count
            let ts = now + Int64(i / rate) + 1
            let temp = round % 2 == 0 ? 30 : 10
            let payload =
                "{\"tsmId\":12100,\"tsmEv\":10,\"tsmTs\":\(ts),\"tsmTuid\":\"\(device.tuid)\",\"temp\":\(temp),"
                + "\"deploymentGroupId\":\"\(device.group)\"}"
            let topic = StreamTopic.forMessage(groupID: device.group, tuid: device.tuid, tsmId: 12100).name
            sent["\(device.tuid):12100:10:\(ts)"] = ContinuousClock.now
            try await publisher.publish(topic: topic, payload: Data(payload.utf8))
        }
        let drainDeadline = ContinuousClock.now + .seconds(120)
        while steps.count < total, ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let cpu = processCPUSeconds() - cpuBefore
        let polls = (await server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0) - requestsBefore
        await scheduler.requestStop()
        _ = await running.value
        await publisher.stop()
        await client.shutdown()
        await server.stop()

        var latencies: [Double] = []
        for (key, at) in sent {
            guard let done = steps.evaluated(key) else { continue }
            latencies.append((done - at).milliseconds)
        }
        latencies.sort()
        let lost = total - latencies.count
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]
        }
        let note = "\(devices) devices, \(rate) msg/s for \(seconds) s; a firing for every hot report (temp alternates per round)"
        report.add(Metric(name: "stream message → action p50", value: percentile(0.50), unit: "ms", note: note))
        report.add(
            Metric(
                name: "stream message → action p99", value: percentile(0.99), unit: "ms", target: .atMost(1000),
                note: note))
        report.add(
            Metric(
                name: "stream CPU per message", value: cpu / Double(total) * 1e6, unit: "µs", target: .atMost(20),
                note: "whole process: scheduler, publisher, both MQTT clients"))
        report.add(Metric(name: "stream messages not evaluated", value: Double(lost), unit: "", target: .atMost(0)))
        report.add(Metric(name: "message polls while streaming", value: Double(polls), unit: "", target: .atMost(0)))
    }

    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// When each message was evaluated: its `message` event is logged as its device is evaluated, and the step's
/// `stream-step` event after every firing and action of the step; steps never overlap, so a message is done at
/// the first `stream-step` after it.
final class StepClock: Sendable {
    private struct State {
        var open: [String] = []
        var done: [String: ContinuousClock.Instant] = [:]
        var live = false
        var count = 0
    }
    private let state = Mutex(State())

    var isLive: Bool { state.withLock { $0.live } }

    func record(event: String, key: String?) {
        let now = ContinuousClock.now
        state.withLock { s in
            switch event {
            case "message": if let key { s.open.append(key) }
            case "stream-step":
                for key in s.open { s.done[key] = now }
                s.count += s.open.count
                s.open.removeAll(keepingCapacity: true)
            case "stream-live": s.live = true
            case "cycle": s.open.removeAll(keepingCapacity: true)
            default: break
            }
        }
    }

    func evaluated(_ key: String) -> ContinuousClock.Instant? { state.withLock { $0.done[key] } }

    /// Messages evaluated by stream steps so far.
    var count: Int { state.withLock { $0.count } }
}

struct StepHandler: LogHandler {
    let clock: StepClock
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
        guard case .string(let event)? = explicit?["event"] else { return }
        var key: String?
        if case .string(let k)? = explicit?["key"] { key = k }
        clock.record(event: event, key: key)
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
