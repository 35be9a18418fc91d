import Foundation
import Prometheus
import Service
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

@Suite("Running as a service")
struct ServiceTests {
    @Test func healthTurnsUnhealthyWhenCyclesStopOrLoginsAreRefused() {
        let health = Health(interval: 60, started: 1000)
        #expect(health.verdict(now: 1100).healthy)  // starting
        #expect(!health.verdict(now: 1181).healthy)  // no cycle within three intervals
        health.cycleEnded(at: 1200, authenticationRefused: false)
        #expect(health.verdict(now: 1300).healthy)
        #expect(!health.verdict(now: 1381).healthy)
        health.cycleEnded(at: 1400, authenticationRefused: true)
        let refused = health.verdict(now: 1401)
        #expect(!refused.healthy)
        #expect(refused.reason.contains("login was refused"))
    }

    @Test func metricsListenRefusesNonLoopbackUnlessPublic() throws {
        #expect(try MetricsServer.Address.parse("127.0.0.1:9464", allowPublic: false).port == 9464)
        #expect(try MetricsServer.Address.parse("[::1]:9464", allowPublic: false).host == "::1")
        #expect(throws: MetricsServer.MetricsError.self) {
            try MetricsServer.Address.parse("0.0.0.0:9464", allowPublic: false)
        }
        #expect(throws: MetricsServer.MetricsError.self) {
            try MetricsServer.Address.parse("127.0.0.1.example.com:9464", allowPublic: false)
        }
        #expect(try MetricsServer.Address.parse("0.0.0.0:9464", allowPublic: true).host == "0.0.0.0")
        #expect(throws: MetricsServer.MetricsError.self) { try MetricsServer.Address.parse("9464", allowPublic: true) }
    }

    @Test func metricsAndHealthAreServedOverHTTP() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "tsee_cycles", unitName: "total", helpText: "cycles")
        ).increment(by: Int64(3))
        let health = Health(interval: 60, started: Date().timeIntervalSince1970)
        let server = MetricsServer(
            address: try .parse("127.0.0.1:0", allowPublic: false), registry: registry, health: health)
        let port = try await server.start()
        defer { Task { await server.stop() } }
        let (body, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: body, as: UTF8.self).contains("tsee_cycles_total 3"))
        let (_, ok) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        #expect((ok as? HTTPURLResponse)?.statusCode == 200)
        health.cycleEnded(at: Date().timeIntervalSince1970, authenticationRefused: true)
        let (why, refused) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        #expect((refused as? HTTPURLResponse)?.statusCode == 503)
        #expect(String(decoding: why, as: UTF8.self).contains("refused"))
    }

    @Test func sdNotifyReachesTheSocketSystemdWouldOpen() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString)").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        defer { unlink(path) }

        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(notifier.send("READY=1\nSTATUS=first cycle done"))
        #expect(notifier.send("WATCHDOG=1"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let first = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(String(decoding: buffer[..<max(0, first)], as: UTF8.self) == "READY=1\nSTATUS=first cycle done")
        let second = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        #expect(String(decoding: buffer[..<max(0, second)], as: UTF8.self) == "WATCHDOG=1")
        #expect(!SystemdNotifier(environment: [:]).send("READY=1"))
    }
}
