import Foundation
import Rules

/// Rule evaluation: 20 representative rules over synthetic messages from many devices, on one core.
enum RuleBenchmark {
    /// Thresholds, `and`/`or`/`not`, `for DURATION`, `for N reports`, `for N of M reports`, `clear when`,
    /// `clear after`, `alert`, `silence`, `kind`, `status is`, windows (`avg`, `delta`, `count`), arithmetic,
    /// group- and device-scoped rules, cooldown, repeat and shadow mode.
    static let rules = """
        rule low-battery
          when battery below 20
          then move to quarantine

        rule co2-high
          when carbonDioxide > 1200
          clear when carbonDioxide < 900
          then log "{tuid} CO2 {carbonDioxide} ppm"

        rule cold-room-warm
          in group prfi00coldchain
          when temp > 8 and status is installed for 30m
          clear when temp < 6
          then send command 1500 reportInterval=60, log "{tuid} at {temp} °C"
          cooldown 6h

        rule device-offline
          when kind is not gateway and silence > 2h
          then log "{tuid} silent for {silence}"

        rule gateway-lost: when alert "gateway connection lost" for 1h → send command 1500 measurementInterval=60 reportInterval=300

        rule humid-3
          when humd > 85 and delta(humd, 30m) > 2 for 2 of 3 reports
          then log "{tuid} humid {humd}"

        rule door-open-long
          in group prfi00coldchain
          when hall == 0 for 15m
          clear when hall == 1
          then log "{tuid} door open"

        rule air-bad
          when tvoc > 400 or carbonDioxide > 1500 or count(tvoc, 1h) > 20
          then log "{tuid} air"
          cooldown 1h

        rule bin-full
          in group prfi00wastebins
          when dist < 300 for 2 reports
          clear when dist > 1000
          then log "{tuid} bin full"

        rule hot
          when temp >= 28 and not (humd < 20)
          then log "{tuid} hot {temp}"
          repeat every 1h max 3

        rule dying-silent
          when battery < 10 and silence > 1h
          then move to retired

        rule crowded
          in group prfi00officehq, prfi00retailtampere
          when state == 1 and carbonDioxide > 1000
          then send command 13200 mode=1

        rule people
          when totalIn - totalOut > 100000 or in * 2 > out + 50
          then log "{tuid} busy"

        rule watched
          on TSPD04BENCH000001, TSPD04BENCH000002, TSAR01BENCH000003
          when temp < 0 or temp > 30
          then log "{tuid} watched {temp}"

        rule shadow-freeze
          when temp < -5
          mode shadow
          then move to quarantine

        rule not-installed-low
          when status is not installed and battery < 50
          then log "{tuid} {status}"

        rule dry-warm
          when humd < 25 and not (temp < 15)
          then log "{tuid} dry"

        rule pressure-low
          when avg(airp, 1h) < 98000 for 1h
          clear after 30m
          then log "{tuid} storm"

        rule lights-off-busy
          in group prfi00officehq
          when lght < 10 and (state == 1 or moveCount > 5)
          then log "{tuid} dark"

        rule leak-gate
          when (temp > 10 and humd > 90) or (alert "gateway connection lost" and battery < 30)
          clear when humd < 80
          then assign group inspection
        """

    struct Device {
        var tuid: String
        var group: String
        var status: String
        var alerts: [AlertEpisode]
        var messages: [Message]
    }

    static let groups = ["prfi00coldchain", "prfi00officehq", "prfi00warehousenorth", "prfi00retailtampere", "prfi00wastebins"]

    /// `devices × perDevice` messages: each device reports every 5 minutes a battery, environment and one
    /// model-specific message in turn, with values that cross the rules' thresholds now and then.
    static func fleet(devices count: Int, perDevice: Int, start: Int64) -> [Device] {
        var random = SystemRandomNumberGenerator.Seeded(seed: 42)
        var fleet: [Device] = []
        fleet.reserveCapacity(count)
        for d in 0..<count {
            let prefix = ["TSPD04", "TSEN01", "TSAR01", "TSPR04", "TSTF01", "TSAP01"][d % 6]
            let tuid = d < 3 ? ["TSPD04BENCH000001", "TSPD04BENCH000002", "TSAR01BENCH000003"][d]
                : prefix + String(format: "BENCH%06d", d)
            let group = groups[d % groups.count]
            var alerts: [AlertEpisode] = []
            if d % 17 == 0 {
                alerts.append(
                    AlertEpisode(type: "gateway connection lost", from: start + 3600, to: d % 34 == 0 ? nil : start + 9000))
            }
            var messages: [Message] = []
            messages.reserveCapacity(perDevice)
            var temp = group == "prfi00coldchain" ? 4.0 : 21.0
            var humd = 50.0 + Double(d % 40)
            var battery = 5.0 + Double(d % 95)
            var co2 = 600.0
            var dist = 1500.0
            var time = start + Int64(d % 300)
            for i in 0..<perDevice {
                temp += random.uniform(-0.6, 0.6) + (temp < 0 ? 0.3 : 0) - (temp > 32 ? 0.3 : 0)
                humd = min(100, max(5, humd + random.uniform(-1.5, 1.5)))
                switch i % 4 {
                case 0:
                    battery = max(0, battery - random.uniform(0, 0.05))
                    messages.append(
                        Message(tsmId: 1110, tsmTs: time, tsmTuid: tuid, values: ["batl": battery, "chrg": 0]))
                case 1:
                    messages.append(
                        Message(
                            tsmId: 12100, tsmTs: time, tsmTuid: tuid,
                            values: [
                                "temp": temp, "humd": humd, "airp": 101_325 + random.uniform(-4000, 1000),
                                "lght": random.uniform(0, 400),
                            ]))
                case 2:
                    switch prefix {
                    case "TSAR01":
                        co2 = min(2500, max(400, co2 + random.uniform(-120, 130)))
                        messages.append(
                            Message(tsmId: 24100, tsmTs: time, tsmTuid: tuid, values: ["carbonDioxide": co2]))
                    case "TSPR04":
                        messages.append(
                            Message(tsmId: 2100, tsmTs: time, tsmTuid: tuid, values: ["state": random.bit() ? 1 : 0]))
                    case "TSTF01":
                        dist = dist < 250 ? 1800 : dist - random.uniform(0, 60)
                        messages.append(Message(tsmId: 17100, tsmTs: time, tsmTuid: tuid, values: ["dist": dist]))
                    case "TSAP01":
                        messages.append(
                            Message(
                                tsmId: 13103, tsmTs: time, tsmTuid: tuid,
                                values: ["in": 3, "out": 2, "totalIn": Double(99_000 + i * 10), "totalOut": 0]))
                    default:
                        messages.append(
                            Message(
                                tsmId: 12101, tsmTs: time, tsmTuid: tuid,
                                values: ["hall": random.uniform(0, 1) < 0.1 ? 0 : 1, "hallCount": Double(i)]))
                    }
                default:
                    messages.append(
                        Message(
                            tsmId: 24101, tsmTs: time, tsmTuid: tuid,
                            values: ["tvoc": random.uniform(50, 450), "moveCount": random.uniform(0, 8)]))
                }
                // Now and then a gap long enough for `silence` rules; usually one report every 5 minutes.
                time += random.uniform(0, 1) < 0.002 ? 3 * 3600 : 300
            }
            fleet.append(
                Device(
                    tuid: tuid, group: group, status: d % 11 == 0 ? "new" : "installed", alerts: alerts,
                    messages: messages))
        }
        return fleet
    }

    struct Result {
        var messagesPerSecond: Double
        /// Messages per second of this thread's CPU time: what the engine costs, whatever else the machine runs.
        var messagesPerCPUSecond: Double
        var firings: Int
    }

    /// This thread's CPU time, in seconds.
    static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Feeds every device's messages to the engine `batch` at a time, as the scheduler does cycle by cycle.
    static func run(engine: Engine, fleet: [Device], batch: Int) -> Result {
        var firings = 0
        var total = 0
        var observations: [DeviceObservations] = fleet.map {
            DeviceObservations(status: $0.status, group: $0.group, alerts: $0.alerts)
        }
        var states = fleet.map { _ in engine.initialStates() }
        // Slices built outside the timed region, so only the engine is measured.
        let batches: [[[Message]]] = fleet.map { device in
            stride(from: 0, to: device.messages.count, by: batch).map {
                Array(device.messages[$0..<min($0 + batch, device.messages.count)])
            }
        }
        let cpuStart = threadCPUSeconds()
        let elapsed = seconds {
            let rounds = batches.map(\.count).max() ?? 0
            // Round-robin over devices, one batch each, like one scheduler cycle after another.
            for round in 0..<rounds {
                for d in fleet.indices where round < batches[d].count {
                    let messages = batches[d][round]
                    let now = messages.last!.tsmTs + 30
                    let fired = engine.evaluate(
                        tuid: fleet[d].tuid, observations: &observations[d], newMessages: messages,
                        states: &states[d], now: now)
                    firings += fired.count
                    total += messages.count
                }
            }
        }
        let cpu = threadCPUSeconds() - cpuStart
        return Result(
            messagesPerSecond: Double(total) / elapsed, messagesPerCPUSecond: Double(total) / cpu, firings: firings)
    }

    static func measure(into report: Report, quick: Bool) {
        let (ruleSet, diagnostics) = RuleSet.parse(file: "bench.rules", text: rules)
        let errors = diagnostics.filter { $0.severity == .error }
        precondition(errors.isEmpty, "benchmark rules do not compile:\n" + errors.map(\.description).joined(separator: "\n"))
        precondition(ruleSet.rules.count == 20, "expected 20 rules, got \(ruleSet.rules.count)")
        let engine = Engine(ruleSet)
        let devices = quick ? 2_000 : 10_000
        let perDevice = 100
        log("rules: generating \(devices * perDevice) messages over \(devices) devices")
        let fleet = fleet(devices: devices, perDevice: perDevice, start: 1_700_000_000)
        let repetitions = quick ? 3 : 5
        for (batch, label, target) in [
            (10, "rules: messages/s, 10 per evaluation", Metric.Target.atLeast(2_000_000)),
            (1, "rules: messages/s, 1 per evaluation", nil),
        ] {
            var samples: [Double] = []
            var cpuSamples: [Double] = []
            var firings = 0
            for _ in 0..<repetitions {
                let result = run(engine: engine, fleet: fleet, batch: batch)
                samples.append(result.messagesPerSecond)
                cpuSamples.append(result.messagesPerCPUSecond)
                firings = result.firings
            }
            report.add(
                Metric(
                    name: label.replacingOccurrences(of: "messages/s", with: "messages per CPU-second"),
                    value: median(cpuSamples), unit: "msg/s", target: nil,
                    note: "the same runs, over this thread's CPU time (independent of other load on the machine)",
                    samples: cpuSamples))
            report.add(
                Metric(
                    name: label, value: median(samples), unit: "msg/s", target: target,
                    note: "20 rules, \(devices) devices × \(perDevice) messages, \(firings) firings, "
                        + "median of \(repetitions)",
                    samples: samples))
        }
    }
}

extension SystemRandomNumberGenerator {
    /// A small deterministic generator (SplitMix64), so every run measures the same messages.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64

        init(seed: UInt64) { state = seed }

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func uniform(_ low: Double, _ high: Double) -> Double {
            low + (high - low) * Double(next() >> 11) / Double(1 << 53)
        }

        mutating func bit() -> Bool { next() & 1 == 1 }
    }
}
