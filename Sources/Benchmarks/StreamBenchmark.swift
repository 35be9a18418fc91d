import Foundation
import Simulator
import Stream
import Synchronization
import TestSupport
import ThingseeAPI

/// `tsee run --mqtt` under load, the scheduler in a process of its own: the built `tsee` binary, a real mosquitto,
/// the simulator's fleet behind the REST API (for the backfill) in this process, and messages published from this
/// process on the data integration topics at a fixed rate. Only the `tsee run` process's CPU is counted (from
/// /proc), so neither the publisher, the simulator nor the broker is billed to the scheduler.
///
/// The rule reads every message (`temp > 50`) and fires only on *probes*: a message of 60 °C, each to a device of
/// its own (a tenth of the fleet is kept for them, so each fires exactly once). The other messages are routine
/// reports (15–24 °C) over the rest of the fleet, one round after another, so every one of them is evaluated and
/// changes its device's state (a new reading, a new cursor) without firing. A probe's firing is a `notify` to a
/// webhook in this process: its latency is from handing the probe to the publishing client to the webhook
/// receiving the call — message → action, end to end. Each phase ends with one more probe; once that has been
/// acted on, everything before it has been evaluated (a stream step takes messages in arrival order).
///
/// Phases: routine messages only at 1,000/s (the CPU of a message that fires nothing), then 10,000/s and 1,000/s
/// with probes (latency). Requests per device per minute while streaming come from the simulator's counters over
/// the phases; polling's from two `tsee run --once` cycles of the same rule, without the stream.
enum StreamBenchmark {
    struct Phase {
        var name: String
        var rate: Int
        var seconds: Int
        /// One message in this many is a probe; nil: routine messages only (and the closing probe).
        var probeEvery: Int?
    }

    struct PhaseResult {
        var published = 0
        var probes: [(tuid: String, at: ContinuousClock.Instant)] = []
        var cpuSeconds = 0.0
        var evaluated = 0
        var seconds = 0.0
    }

    static func measure(into report: Report, quick: Bool, workDirectory: String, tsee: String) async throws {
        let devices = quick ? 2_000 : 10_000
        let phases =
            quick
            ? [
                Phase(name: "routine", rate: 1_000, seconds: 5, probeEvery: nil),
                Phase(name: "10k", rate: 10_000, seconds: 3, probeEvery: 500),
                Phase(name: "1k", rate: 1_000, seconds: 5, probeEvery: 50),
            ]
            : [
                Phase(name: "routine", rate: 1_000, seconds: 20, probeEvery: nil),
                Phase(name: "10k", rate: 10_000, seconds: 10, probeEvery: 500),
                Phase(name: "1k", rate: 1_000, seconds: 10, probeEvery: 20),
            ]
        log("stream: tsee run --mqtt in its own process, \(devices) devices")
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
        fleet.sort { $0.tuid < $1.tuid }
        // A tenth of the fleet for probes, each device probed once; routine messages go round the rest.
        let probeDevices = Array(fleet.suffix(fleet.count / 10))
        let routineDevices = Array(fleet.prefix(fleet.count - probeDevices.count))
        let hook = HookServer()
        let hookPort = try await hook.start()

        let rules = workDirectory + "/stream.rules"
        try "rule probe: when temp > 50 then notify bench\n".write(toFile: rules, atomically: true, encoding: .utf8)
        let environment: [String: String?] = [
            "THINGSEE_BASE_URL": url.absoluteString, "THINGSEE_CLIENT_ID": "sim", "THINGSEE_CLIENT_SECRET": "sim-secret",
            "TSEE_NOTIFY_BENCH_URL": "http://127.0.0.1:\(hookPort)/hook", "XDG_STATE_HOME": workDirectory + "/state",
            "HOME": workDirectory, "NO_COLOR": "1", "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
        ]
        let watch = ChildLog()
        let interval = 15
        let child = try Subprocess.start(
            [
                tsee, "run", rules, "--mqtt", broker.url, "--db", workDirectory + "/stream.db", "--interval",
                "\(interval)s", "--lookback", "1s", "--concurrency", "16", "--metrics-listen", "127.0.0.1:0",
                "--log-format", "json",
            ], environment: environment, stderrLines: { watch.read($0) })
        var stopped = false
        defer {
            if !stopped {
                child.signal(SIGKILL)
                _ = child.wait()
            }
        }
        let liveDeadline = ContinuousClock.now + .seconds(600)
        while !watch.isLive, ContinuousClock.now < liveDeadline { try await Task.sleep(for: .milliseconds(50)) }
        guard watch.isLive, let metricsPort = watch.metricsPort else {
            log("stream: tsee run did not go live in 10 minutes; last lines: \(watch.last(5))")
            return
        }
        log("stream: live after the backfill of \(devices) devices")

        let publisher = StreamPublisher(configuration: try StreamConfiguration(url: broker.url, clientID: "tsee-bench-pub"))
        try await publisher.start()
        _ = await publisher.waitUntilConnected(timeout: .seconds(10))
        let base = Int64(server.now.timeIntervalSince1970) + 1
        var routineSent = 0
        var probesSent = 0
        let requestsBefore = await server.stats.total
        let pollsBefore = await server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0
        let streamingStarted = ContinuousClock.now
        var results: [PhaseResult] = []
        for phase in phases {
            var result = PhaseResult()
            let cpuBefore = child.cpuSecondsSoFar() ?? 0
            let evaluatedBefore = try await streamMessages(port: metricsPort)
            let total = phase.rate * phase.seconds
            let start = ContinuousClock.now
            for i in 0...total {
                // Paced in slices of a millisecond, so the rate holds over any few milliseconds.
                let due = start + .microseconds(Int64(i) * 1_000_000 / Int64(phase.rate))
                if due - ContinuousClock.now > .milliseconds(1) { try await Task.sleep(until: due, clock: .continuous) }
                let probe = i == total || phase.probeEvery.map { i % $0 == $0 - 1 } ?? false
                let device: (tuid: String, group: String)
                let temp: Int
                let ts: Int64
                if probe {
                    device = probeDevices[probesSent % probeDevices.count]
                    probesSent += 1
                    temp = 60
                    ts = base + Int64(routineSent / routineDevices.count)
                } else {
                    device = routineDevices[routineSent % routineDevices.count]
                    temp = 15 + routineSent % 10
                    ts = base + Int64(routineSent / routineDevices.count)
                    routineSent += 1
                }
                let payload =
                    "{\"tsmId\":12100,\"tsmEv\":10,\"tsmTs\":\(ts),\"tsmTuid\":\"\(device.tuid)\",\"temp\":\(temp),"
                    + "\"deploymentGroupId\":\"\(device.group)\"}"
                let topic = StreamTopic.forMessage(groupID: device.group, tuid: device.tuid, tsmId: 12100).name
                if probe { result.probes.append((device.tuid, ContinuousClock.now)) }
                try await publisher.publish(topic: topic, payload: Data(payload.utf8))
                result.published += 1
            }
            // Done when the closing probe has been acted on and every message of the phase counted (a step's count
            // is added after its actions, so a large step's probe can be called before the step is done).
            let last = result.probes.last!.tuid
            let drainDeadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < drainDeadline {
                if hook.delivered(last), try await streamMessages(port: metricsPort) - evaluatedBefore >= result.published {
                    break
                }
                try await Task.sleep(for: .milliseconds(5))
            }
            result.seconds = (ContinuousClock.now - start).inSeconds
            result.cpuSeconds = (child.cpuSecondsSoFar() ?? 0) - cpuBefore
            result.evaluated = try await streamMessages(port: metricsPort) - evaluatedBefore
            log(
                String(
                    format: "  %@: %d messages at %d/s in %.1f s, %d evaluated, %.2f s CPU of tsee run", phase.name,
                    result.published, phase.rate, result.seconds, result.evaluated, result.cpuSeconds))
            results.append(result)
        }
        // mosquitto says when it starts discarding what it queued for a client that acknowledges too slowly.
        let brokerDrops = broker.log.split(separator: "\n").filter { $0.contains("dropped") }
        for line in brokerDrops.prefix(3) { log("stream: mosquitto: \(line)") }
        let streamingMinutes = (ContinuousClock.now - streamingStarted).inSeconds / 60
        let requestsWhileStreaming = await server.stats.total - requestsBefore
        let polls = (await server.stats.byRoute["GET /things/{tuid}/messages"] ?? 0) - pollsBefore
        child.signal(SIGTERM)
        let ended = child.wait()
        stopped = true
        if ended.status != 0 { log("stream: tsee run exited \(ended.status); last lines: \(watch.last(5))") }
        await publisher.stop()

        // Polling, for comparison: the same rule without the stream, a first cycle and a steady one.
        var pollRequests = 0
        for n in 0..<2 {
            let before = await server.stats.total
            // Waited for on a thread of its own: the simulator in this process answers meanwhile.
            let arguments = [tsee, "run", rules, "--once", "--db", workDirectory + "/poll.db", "--lookback", "1s"]
            let outcome = try await withCheckedThrowingContinuation { continuation in
                Thread { continuation.resume(with: Result { try Subprocess.run(arguments, environment: environment) }) }
                    .start()
            }
            if outcome.status != 0 { log("stream: tsee run --once exited \(outcome.status)") }
            if n == 1 { pollRequests = await server.stats.total - before }
        }
        await hook.stop()
        await client.shutdown()
        await server.stop()

        let delivered = hook.deliveryTimes()
        func latencies(_ result: PhaseResult) -> [Double] {
            result.probes.compactMap { probe in delivered[probe.tuid].map { ($0 - probe.at).milliseconds } }.sorted()
        }
        func percentile(_ sorted: [Double], _ p: Double) -> Double {
            sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        let routine = results[0]
        report.add(
            Metric(
                name: "stream CPU per message, no firing", value: routine.cpuSeconds / Double(routine.published) * 1e6,
                unit: "µs", target: .atMost(20),
                note: "tsee run's process alone (/proc), \(phases[0].rate) msg/s for \(phases[0].seconds) s over "
                    + "\(routineDevices.count) devices; every message evaluated, none fires"))
        for (phase, result) in zip(phases, results).dropFirst() {
            let sorted = latencies(result)
            let note =
                "\(phase.rate) msg/s for \(phase.seconds) s over \(devices) devices; \(sorted.count) of "
                + "\(result.probes.count) probes (one in \(phase.probeEvery ?? 0)) → webhook"
            let rate = phase.rate >= 10_000 ? "10,000" : "1,000"
            report.add(Metric(name: "stream message → action p50 at \(rate)/s", value: percentile(sorted, 0.5), unit: "ms", note: note))
            report.add(
                Metric(
                    name: "stream message → action p99 at \(rate)/s", value: percentile(sorted, 0.99), unit: "ms",
                    target: phase.rate <= 1_000 ? .atMost(1000) : nil, note: note))
            report.add(
                Metric(
                    name: "stream CPU per message at \(rate)/s", value: result.cpuSeconds / Double(result.published) * 1e6,
                    unit: "µs",
                    note: "tsee run's process alone; one message in \(phase.probeEvery ?? 0) fires a webhook call"))
        }
        let published = results.reduce(0) { $0 + $1.published }
        let evaluated = results.reduce(0) { $0 + $1.evaluated }
        report.add(
            Metric(
                name: "stream messages not evaluated", value: Double(published - evaluated), unit: "", target: .atMost(0),
                note: "published \(published), tsee_messages_total{source=\"stream\"} rose by \(evaluated)"))
        report.add(Metric(name: "message polls while streaming", value: Double(polls), unit: "", target: .atMost(0)))
        report.add(
            Metric(
                name: "broker log lines about dropped messages", value: Double(brokerDrops.count), unit: "",
                note: "mosquitto's \"Outgoing messages are being dropped for client …\" (max_queued_messages 1000)"))
        report.add(
            Metric(
                name: "requests per device per minute, streaming",
                value: Double(requestsWhileStreaming) / Double(devices) / streamingMinutes, unit: "req",
                note: "simulator's count over \(String(format: "%.1f", streamingMinutes * 60)) s of streaming, "
                    + "--interval \(interval)s"))
        report.add(
            Metric(
                name: "requests per device per minute, polling", value: Double(pollRequests) / Double(devices),
                unit: "req", note: "a steady `tsee run --once` cycle's requests per device, at the default --interval 60s"))
    }

    /// `tsee_messages_total{source="stream"}` of the child's /metrics.
    private static func streamMessages(port: Int) async throws -> Int {
        let data = try await httpGet("http://127.0.0.1:\(port)/metrics")
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("tsee_messages_total{source=\"stream\"}") {
            return Int(Double(line.split(separator: " ").last ?? "") ?? 0)
        }
        return 0
    }
}

/// What the benchmark reads from `tsee run --log-format json`'s stderr as it is written.
final class ChildLog: Sendable {
    private struct State {
        var live = false
        var metricsPort: Int?
        var last: [String] = []
    }
    private let state = Mutex(State())

    func read(_ line: String) {
        let live = line.contains("\"event\":\"stream-live\"")
        var port: Int?
        if let range = line.range(of: "metrics on http://127.0.0.1:") {
            port = Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        state.withLock { s in
            if live { s.live = true }
            if let port { s.metricsPort = port }
            s.last.append(line)
            if s.last.count > 20 { s.last.removeFirst() }
        }
    }

    var isLive: Bool { state.withLock { $0.live } }
    var metricsPort: Int? { state.withLock { $0.metricsPort } }
    func last(_ n: Int) -> [String] { state.withLock { Array($0.last.suffix(n)) } }
}

extension HookServer {
    fileprivate func delivered(_ tuid: String) -> Bool {
        deliveries.withLock { list in list.contains { ($0.body["tuid"] as? String) == tuid } }
    }

    /// The first call for each device.
    fileprivate func deliveryTimes() -> [String: ContinuousClock.Instant] {
        var times: [String: ContinuousClock.Instant] = [:]
        for delivery in deliveries.withLock({ $0 }) {
            guard let tuid = delivery.body["tuid"] as? String, times[tuid] == nil else { continue }
            times[tuid] = delivery.at
        }
        return times
    }
}

extension Duration {
    fileprivate var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    fileprivate var inSeconds: Double { milliseconds / 1000 }
}
