import CoreMetrics
import Foundation
import Rules

/// What the scheduler reports through swift-metrics; `tsee run --metrics-listen` exports it for Prometheus.
///
/// The names are the contract of DESIGN's "Running as a service" (dashboards and alerts depend on them). With no
/// metrics backend bootstrapped every call here does nothing.
struct SchedulerMetrics: Sendable {
    private let wallClock: @Sendable () -> Double

    init(wallClock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.wallClock = wallClock
        // Made once up front so that every series exists from the first scrape, at zero.
        _ = Counter(label: "tsee_cycles_total")
        _ = Counter(label: "tsee_poll_failures_total")
        _ = Counter(label: "tsee_clock_errors_total")
        _ = Counter(label: "tsee_messages_total", dimensions: [("source", "poll")])
        _ = Counter(label: "tsee_messages_total", dimensions: [("source", "stream")])
        Gauge(label: "tsee_stream_connected").record(0)
        Gauge(label: "tsee_commands_unconfirmed").record(0)
    }

    func cycle(_ report: CycleReport, duration: Duration) {
        Counter(label: "tsee_cycles_total").increment()
        CoreMetrics.Timer(label: "tsee_cycle_duration_seconds").recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
        Gauge(label: "tsee_devices").record(report.devices)
        // Stream messages are counted as their steps evaluate them (`streamMessages`), not again here.
        if report.pollMessages > 0 {
            Counter(label: "tsee_messages_total", dimensions: [("source", "poll")]).increment(by: report.pollMessages)
        }
        if report.failedDevices > 0 { Counter(label: "tsee_poll_failures_total").increment(by: report.failedDevices) }
        if !report.stalled, !report.authenticationFailed, !report.nothingPolled {
            Gauge(label: "tsee_last_cycle_success_timestamp_seconds").record(wallClock())
        }
    }

    /// Messages the stream brought that counted.
    func streamed(_ count: Int) {
        guard count > 0 else { return }
        Counter(label: "tsee_messages_total", dimensions: [("source", "stream")]).increment(by: count)
    }

    func action(rule: String, kind: String, outcome: String) {
        Counter(label: "tsee_actions_total", dimensions: [("rule", rule), ("kind", kind), ("outcome", outcome)])
            .increment()
    }

    func unconfirmed(_ count: Int) {
        Gauge(label: "tsee_commands_unconfirmed").record(count)
    }

    /// Devices firing now, per rule.
    func firing(_ devices: [String: PackedDevice], rules: [CompiledRule]) {
        var counts = Array(repeating: 0, count: rules.count)
        for device in devices.values {
            for i in device.firing where i < counts.count { counts[i] += 1 }
        }
        for (i, rule) in rules.enumerated() {
            Gauge(label: "tsee_rule_firing", dimensions: [("rule", rule.name)]).record(counts[i])
        }
    }
}
