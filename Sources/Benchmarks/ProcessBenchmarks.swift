import AsyncHTTPClient
import Foundation

/// What is measured on the built `tsee` binary: a scheduler cycle against a simulator in another process,
/// start-up, and peak memory.
struct ProcessBenchmarks {
    let tsee: String
    let workDirectory: String
    let quick: Bool

    /// An environment with no connection configured and all state kept in the work directory.
    var isolated: [String: String?] {
        [
            "THINGSEE_BASE_URL": nil, "THINGSEE_CLIENT_ID": nil, "THINGSEE_CLIENT_SECRET": nil,
            "XDG_STATE_HOME": workDirectory + "/state", "HOME": workDirectory, "NO_COLOR": "1",
            "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
        ]
    }

    // MARK: Scheduler

    struct Simulator {
        let process: Subprocess
        let baseURL: String
        let clientID: String
        let secret: String
    }

    func startSimulator(devices: Int) throws -> Simulator {
        let process = try Subprocess.start(
            [tsee, "sim", "--devices", String(devices), "--port", "0"], environment: isolated)
        return try process.waitForOutput(timeout: 60) { text -> Simulator? in
            func value(_ name: String) -> String? {
                text.split(separator: "\n").first { $0.hasPrefix("export \(name)=") }
                    .map { String($0.dropFirst("export \(name)=".count)) }
            }
            guard let url = value("THINGSEE_BASE_URL"), let id = value("THINGSEE_CLIENT_ID"),
                let secret = value("THINGSEE_CLIENT_SECRET")
            else { return nil }
            return Simulator(process: process, baseURL: url, clientID: id, secret: secret)
        }
    }

    /// `GET /_sim/stats`'s `total`: every API request the simulator received.
    func simulatorRequests(_ sim: Simulator) async throws -> Int {
        var components = URLComponents(string: sim.baseURL)!
        components.path = "/_sim/stats"
        let data = try await httpGet(components.url!.absoluteString)
        let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let stats = json?["data"] as? [String: Any] ?? json
        return stats?["total"] as? Int ?? 0
    }

    struct Cycle {
        var outcome: Subprocess.Outcome
        var devices: Int
        var clientRequests: Int
        var serverRequests: Int
        var line: String
    }

    /// `tsee run rules --once --db DB` against the simulator.
    func cycle(_ sim: Simulator, database: String, rules: String) async throws -> Cycle {
        let before = try await simulatorRequests(sim)
        var environment = isolated
        environment["THINGSEE_BASE_URL"] = sim.baseURL
        environment["THINGSEE_CLIENT_ID"] = sim.clientID
        environment["THINGSEE_CLIENT_SECRET"] = sim.secret
        let outcome = try Subprocess.run(
            [tsee, "run", rules, "--once", "--db", database], environment: environment, sampleMemory: true)
        let after = try await simulatorRequests(sim)
        let line = outcome.stderr.split(separator: "\n").last { $0.contains(": cycle ") }.map(String.init) ?? ""
        func number(before word: String) -> Int {
            guard let range = line.range(of: " \(word)") else { return 0 }
            let digits = line[..<range.lowerBound].reversed().prefix { $0.isNumber }
            return Int(String(digits.reversed())) ?? 0
        }
        if outcome.status != 0 {
            log("  tsee run exited \(outcome.status); last lines:")
            for l in outcome.stderr.split(separator: "\n").suffix(3) { log("    " + l) }
        }
        log("  " + line)
        return Cycle(
            outcome: outcome, devices: number(before: "devices"), clientRequests: number(before: "requests"),
            serverRequests: after - before, line: line)
    }

    /// A first and a steady cycle against a simulator of its own, and the simulator's peak RSS after both: a fleet
    /// another cycle acted on (devices already quarantined) would make a first cycle cheaper.
    func cyclesOnAFreshFleet(devices: Int, database: String, rules: String) async throws -> (
        first: Cycle, steady: Cycle, simulatorPeak: Int?
    ) {
        let sim = try startSimulator(devices: devices)
        defer {
            sim.process.signal(SIGTERM)
            _ = sim.process.wait()
        }
        let first = try await cycle(sim, database: database, rules: rules)
        let steady = try await cycle(sim, database: database, rules: rules)
        return (first, steady, sim.process.peakRSS())
    }

    func measureScheduler(into report: Report) async throws {
        let devices = 10_000
        log("scheduler: simulator with \(devices) devices in its own process, a fresh one per repetition")
        // Rules from the repository, as an operator would run them.
        let rules = FileManager.default.currentDirectoryPath + "/rules"
        let repetitions = quick ? 1 : 3
        var first: [Cycle] = []
        var steady: [Cycle] = []
        var simulatorPeaks: [Int] = []
        for rep in 0..<repetitions {
            let run = try await cyclesOnAFreshFleet(
                devices: devices, database: workDirectory + "/run-\(rep).db", rules: rules)
            first.append(run.first)
            steady.append(run.steady)
            if let peak = run.simulatorPeak { simulatorPeaks.append(peak) }
        }
        let simulatorPeak = simulatorPeaks.max()

        for (label, cycles) in [("first", first), ("steady", steady)] {
            let note = "median of \(cycles.count); \(cycles.last?.line ?? "")"
            report.add(
                Metric(
                    name: "scheduler \(label) cycle: wall", value: median(cycles.map(\.outcome.wallSeconds)),
                    unit: "s", target: .atMost(5), note: note, samples: cycles.map(\.outcome.wallSeconds)))
            report.add(
                Metric(
                    name: "scheduler \(label) cycle: client CPU", value: median(cycles.map(\.outcome.cpuSeconds)),
                    unit: "s", note: "user + system of the tsee process", samples: cycles.map(\.outcome.cpuSeconds)))
            let perDevice = cycles.map { Double($0.serverRequests) / Double(max(1, $0.devices)) }
            report.add(
                Metric(
                    name: "scheduler \(label) cycle: requests/device", value: median(perDevice), unit: "req",
                    target: .atMost(1.2),
                    note: "simulator's count (/_sim/stats) incl. login and device list; client counted "
                        + "\(cycles.last?.clientRequests ?? 0)",
                    samples: perDevice))
        }
        let runPeak = (first + steady).map { Double($0.outcome.maxRSS) / 1e6 }
        report.add(
            Metric(
                name: "memory: tsee run peak RSS", value: runPeak.max() ?? .nan, unit: "MB", target: .atMost(100),
                note: "largest of every cycle above (VmHWM sampled every 5 ms)", samples: runPeak))
        report.add(
            Metric(
                name: "memory: simulator peak RSS", value: simulatorPeak.map { Double($0) / 1e6 } ?? .nan, unit: "MB",
                target: .atMost(100), note: "VmHWM after serving every cycle above"))
    }

    /// First and steady cycles of the repository's rules at 1,000, 10,000 and 100,000 devices (not 100,000 with
    /// `--quick`), one repetition each on a fresh simulator: wall, CPU, requests per device, and the peak RSS of
    /// `tsee run` and of the simulator, so growth with the fleet shows as ratios between sizes.
    func measureScale(into report: Report) async throws {
        let sizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]
        let rules = FileManager.default.currentDirectoryPath + "/rules"
        for devices in sizes {
            log("scale: \(devices) devices, a fresh simulator, one first and one steady cycle")
            let (first, steady, simulatorPeak) = try await cyclesOnAFreshFleet(
                devices: devices, database: workDirectory + "/scale-\(devices).db", rules: rules)
            let size = devices >= 1_000 ? "\(devices / 1_000)k" : "\(devices)"
            let big = devices == 100_000
            for (label, c) in [("first", first), ("steady", steady)] {
                report.add(
                    Metric(
                        name: "scale \(size) \(label) cycle: wall", value: c.outcome.wallSeconds, unit: "s",
                        target: big && label == "steady" ? .atMost(10) : nil, note: c.line))
                report.add(
                    Metric(
                        name: "scale \(size) \(label) cycle: client CPU", value: c.outcome.cpuSeconds, unit: "s",
                        note: "user + system of the tsee process"))
                report.add(
                    Metric(
                        name: "scale \(size) \(label) cycle: requests/device",
                        value: Double(c.serverRequests) / Double(max(1, c.devices)), unit: "req"))
            }
            report.add(
                Metric(
                    name: "scale \(size): tsee run peak RSS",
                    value: Double(max(first.outcome.maxRSS, steady.outcome.maxRSS)) / 1e6, unit: "MB",
                    target: big ? .atMost(400) : nil, note: "larger of the two cycles (VmHWM sampled every 5 ms)"))
            report.add(
                Metric(
                    name: "scale \(size): simulator peak RSS",
                    value: simulatorPeak.map { Double($0) / 1e6 } ?? .nan, unit: "MB",
                    target: big ? .atMost(400) : nil, note: "VmHWM after serving both cycles"))
        }
    }

    // MARK: Against a plain Python script

    /// One dry-run cycle of the two design-card rules (`benchmarks/card.rules`, 1 h look-back) over 10,000
    /// simulated devices, by `tsee run` and by `benchmarks/aiohttp_peer.py` (asyncio + aiohttp, the same fetches),
    /// taking turns against one simulator; CPU of each child from `wait4`, the simulator's from /proc.
    func measurePeer(into report: Report) async throws {
        let devices = quick ? 2_000 : 10_000
        let python = ["/usr/bin/env", "python3"]
        let check = try Subprocess.run(python + ["-c", "import aiohttp"], environment: isolated)
        guard check.status == 0 else {
            log("peer: skipped: python3 cannot import aiohttp (scripts/bench installs it)")
            return
        }
        log("peer: tsee run vs benchmarks/aiohttp_peer.py, \(devices) devices, 1 h look-back")
        let sim = try startSimulator(devices: devices)
        defer {
            sim.process.signal(SIGTERM)
            _ = sim.process.wait()
        }
        let directory = FileManager.default.currentDirectoryPath
        var environment = isolated
        environment["THINGSEE_BASE_URL"] = sim.baseURL
        environment["THINGSEE_CLIENT_ID"] = sim.clientID
        environment["THINGSEE_CLIENT_SECRET"] = sim.secret
        let repetitions = quick ? 1 : 3
        var tseeCPU: [Double] = [], peerCPU: [Double] = [], tseeWall: [Double] = [], peerWall: [Double] = []
        var serverPerRequest: [Double] = []
        var firings = (tsee: "", peer: "")
        for rep in 0..<repetitions {
            for who in ["tsee", "peer"] {
                let requestsBefore = try await simulatorRequests(sim)
                let cpuBefore = sim.process.cpuSecondsSoFar() ?? 0
                let arguments =
                    who == "tsee"
                    ? [
                        tsee, "run", directory + "/benchmarks/card.rules", "--once", "--dry-run", "--lookback", "1h",
                        "--db", workDirectory + "/peer-\(rep).db",
                    ]
                    : python + [
                        directory + "/benchmarks/aiohttp_peer.py", "--base-url", sim.baseURL, "--client-id",
                        sim.clientID, "--lookback", "3600", "--concurrency", "8",
                    ]
                let outcome = try Subprocess.run(arguments, environment: environment)
                let served = try await simulatorRequests(sim) - requestsBefore
                let serverCPU = (sim.process.cpuSecondsSoFar() ?? 0) - cpuBefore
                if outcome.status != 0 {
                    log("  \(who) exited \(outcome.status): \(outcome.stderr.split(separator: "\n").suffix(3))")
                }
                serverPerRequest.append(serverCPU / Double(max(served, 1)) * 1e6)
                if who == "tsee" {
                    tseeCPU.append(outcome.cpuSeconds)
                    tseeWall.append(outcome.wallSeconds)
                    let line = outcome.stderr.split(separator: "\n").last { $0.contains(": cycle ") } ?? ""
                    firings.tsee = String(line)
                } else {
                    peerCPU.append(outcome.cpuSeconds)
                    peerWall.append(outcome.wallSeconds)
                    firings.peer = outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                }
                log(String(format: "  %@: %.2f s CPU, %.2f s wall, %d requests", who, outcome.cpuSeconds,
                           outcome.wallSeconds, served))
            }
        }
        let ratios = zip(tseeCPU, peerCPU).map { $0 / $1 }
        report.add(
            Metric(
                name: "vs aiohttp: first cycle CPU, tsee ÷ peer", value: median(ratios), unit: "×",
                target: .atMost(0.25),
                note: "\(devices) devices, 1 h look-back, card rules, dry run; median of \(ratios.count) pairs; "
                    + "tsee: \(firings.tsee); peer: \(firings.peer)",
                samples: ratios))
        report.add(
            Metric(
                name: "vs aiohttp: tsee CPU", value: median(tseeCPU), unit: "s", note: "user + system (wait4)",
                samples: tseeCPU))
        report.add(
            Metric(
                name: "vs aiohttp: peer CPU", value: median(peerCPU), unit: "s", note: "user + system (wait4)",
                samples: peerCPU))
        report.add(
            Metric(
                name: "vs aiohttp: tsee wall", value: median(tseeWall), unit: "s", target: .atMost(3),
                samples: tseeWall))
        report.add(Metric(name: "vs aiohttp: peer wall", value: median(peerWall), unit: "s", samples: peerWall))
        report.add(
            Metric(
                name: "simulator CPU per request", value: median(serverPerRequest), unit: "µs", target: .atMost(60),
                note: "the simulator process's CPU (/proc) over the requests it served, during every run above",
                samples: serverPerRequest))
    }

    // MARK: Start-up

    func measureStartup(into report: Report) throws {
        let runs = 15
        var help: [Double] = []
        for _ in 0..<runs {
            let outcome = try Subprocess.run([tsee, "-c", "help"], environment: isolated)
            precondition(outcome.status == 0, "tsee -c help failed: \(outcome.stderr)")
            help.append(outcome.wallSeconds * 1000)
        }
        report.add(
            Metric(
                name: "start-up: tsee -c help", value: median(help), unit: "ms", target: .atMost(10),
                note: "median of \(runs), no THINGSEE_BASE_URL", samples: help))

        var prompt: [Double] = []
        for _ in 0..<runs {
            prompt.append(
                try timeToPrompt(
                    [tsee], environment: isolated.merging(["TERM": "xterm"]) { $1 }, prompt: "]> ", timeout: 20)
                    * 1000)
        }
        report.add(
            Metric(
                name: "start-up: REPL first prompt", value: median(prompt), unit: "ms",
                note: "median of \(runs), under a pty, no THINGSEE_BASE_URL", samples: prompt))
    }
}

/// The body of a GET on loopback. Through AsyncHTTPClient, as tsee itself: URLSession would link
/// FoundationNetworking and with it libcurl, which a static build cannot find on a machine without libcurl's
/// development package.
func httpGet(_ url: String) async throws -> Data {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
    return Data(buffer: try await response.body.collect(upTo: 64 << 20))
}
