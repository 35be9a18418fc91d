import Foundation
import Testing

/// Each REPL command run as `tsee CMD ARGS…` against the simulator: its request, its JSON output.
@Suite(.serialized) struct CommandTests {
    @Test func readCommandsPrintTheAPIsDataPayload() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let tuid = fleet.sensor

        let thing = try await fleet.tsee("thing", tuid)
        #expect(thing.status == 0, "\(thing.stderr)")
        let info = try #require(thing.json as? [String: Any])
        #expect(info["battery_level"] != nil && info["gateway_tuid"] != nil && info["version"] != nil)

        let messages = try await fleet.tsee("messages", tuid, "--limit", "3", "--id", "12100", "--from", "-1d")
        #expect(messages.status == 0, "\(messages.stderr)")
        let list = try #require(messages.json as? [[String: Any]])
        #expect(list.count == 3)
        #expect(
            list.allSatisfy { $0["tsmTuid"] as? String == tuid && $0["tsmId"] as? Int == 12100 && $0["temp"] != nil })

        let alerts = try await fleet.tsee("alerts", tuid, "--from", "-7d")
        #expect(alerts.status == 0 && alerts.json is [Any], "\(alerts.stderr)")

        let installations = try await fleet.tsee("installations", tuid)
        let history = try #require(installations.json as? [[String: Any]])
        #expect(history.first?["installation_status"] as? String == "installed")

        let groups = try await fleet.tsee("groups", "--limit", "50")
        let ids = try #require(groups.json as? [[String: Any]]).compactMap { $0["group_id"] as? String }
        #expect(ids.contains("prfi00warehousenorth"))

        let things = try await fleet.tsee("group", "things", "prfi00warehousenorth")
        let tuids = try #require((things.json as? [String: Any])?["tuids"] as? [String])
        #expect(!tuids.isEmpty)

        let commands = try await fleet.tsee("commands", tuid)
        #expect(commands.status == 0 && commands.json is [Any])

        let help = try await fleet.tsee("help", "send")
        #expect(help.status == 0 && help.stdout.contains("send TUID TSMID") && help.stdout.contains("Example:"))
        let codes = try await fleet.tsee("help", "exit-codes")
        #expect(codes.stdout.contains("6  a command was accepted but the device's echo did not arrive"))
    }

    @Test func messagesSaysOnStderrHowManyUnusableRowsItSkipped() async throws {
        let fleet = try await Fleet.start { $0.badItemRate = 1 }
        defer { Task { await fleet.stop() } }
        let run = try await fleet.tsee("messages", fleet.sensor, "--limit", "10", "--from", "-1d")
        #expect(run.status == 0, "\(run.stderr)")
        let list = try #require(run.json as? [[String: Any]])
        #expect(!list.isEmpty && list.allSatisfy { $0["tsmTuid"] as? String == fleet.sensor })
        #expect(run.stderr.contains("rows skipped (outgoing command rows or events without a time)"), "\(run.stderr)")
        let clean = try await Fleet.start()
        defer { Task { await clean.stop() } }
        let plain = try await clean.tsee("messages", clean.sensor, "--limit", "10", "--from", "-1d")
        #expect(plain.status == 0 && !plain.stderr.contains("skipped"), "\(plain.stderr)")
    }

    @Test func mutatingCommandsChangeTheFleet() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let tuid = fleet.sensor

        let install = try await fleet.tsee("install", tuid, "quarantine")
        #expect(install.status == 0, "\(install.stderr)")
        #expect((install.json as? [String: Any])?["installation_status"] as? String == "quarantine")
        let history = try await fleet.tsee("installations", tuid)
        #expect((history.json as? [[String: Any]])?.first?["installation_status"] as? String == "quarantine")

        let create = try await fleet.tsee("group", "create", "cold-test", "Cold storage rooms")
        #expect(create.status == 0, "\(create.stderr)")
        let groups = try await fleet.tsee("groups", "cold-test")
        let created = (groups.json as? [[String: Any]])?.first { $0["group_id"] as? String == "cold-test" }
        #expect(created?["group_description"] as? String == "Cold storage rooms")

        let again = try await fleet.tsee("group", "create", "cold-test")
        #expect(again.status == 1, "409 is a refusal")
        #expect(again.stderr.contains("409"))

        let assign = try await fleet.tsee("group", "assign", tuid, "cold-test")
        #expect((assign.json as? [String: Any])?["group_id"] as? String == "cold-test")
        let members = try await fleet.tsee("group", "things", "cold-test")
        #expect((members.json as? [String: Any])?["tuids"] as? [String] == [tuid])

        // A non-empty group is never deleted without a terminal to confirm on, unless --yes is given.
        let refused = try await fleet.tsee("group", "delete", "cold-test")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("has 1 device") && refused.stderr.contains("--yes"))
        #expect((try await fleet.tsee("group", "things", "cold-test")).status == 0)
        let deleted = try await fleet.tsee("group", "delete", "cold-test", "--yes")
        #expect(deleted.status == 0, "\(deleted.stderr)")
        #expect((deleted.json as? [String: Any])?["deleted"] as? Bool == true)

        let sent = try await fleet.tsee("send", tuid, "1500", "reportInterval=600", "--tx", "4242")
        #expect(sent.status == 0, "\(sent.stderr)")
        let accepted = try #require((sent.json as? [String: Any])?["commands"] as? [[String: Any]])
        #expect(accepted.first?["transactionId"] as? Int == 4242)
        let log = try await fleet.tsee("commands", tuid)
        let entry = (log.json as? [[String: Any]])?.first?["command"] as? [String: Any]
        #expect(entry?["transactionId"] as? Int == 4242)
    }

    @Test func plotPrintsTheSeriesAsJSON() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let plot = try await fleet.tsee("plot", fleet.sensor, "temp", "--from", "-6h")
        #expect(plot.status == 0, "\(plot.stderr)")
        let series = try #require(plot.json as? [[String: Any]])
        #expect(series.count > 5)
        let times = series.compactMap { $0["ts"] as? Int }
        #expect(times == times.sorted() && times.count == series.count)
        #expect(series.allSatisfy { $0["value"] is Double || $0["value"] is Int })

        let chart = try await fleet.tsee("plot", fleet.sensor, "batl", "--from", "-2d", "-o", "table")
        #expect(chart.stdout.contains("┤") && chart.stdout.contains("min ") && chart.stdout.contains("max "))
    }

    @Test func sendWaitConfirmsTheEcho() async throws {
        let fleet = try await Fleet.start { $0.echoDelay = 1 }
        defer { Task { await fleet.stop() } }
        let result = try await fleet.tsee(
            "send", fleet.sensor, "1500", "measurementInterval=30", "reportInterval=99999", "--tx", "77", "--wait",
            "30s")
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(result.json as? [String: Any])
        #expect((summary["echo"] as? [String: Any])?["transactionId"] as? Int == 77)
        #expect((summary["echo"] as? [String: Any])?["tsmEv"] as? Int == 31)
        // reportInterval is clamped to 86400 by the device: reported as a difference.
        let differences = try #require(summary["differences"] as? [[String: Any]])
        #expect(differences.map { $0["name"] as? String } == ["reportInterval"])
        #expect(differences.first?["echoed"] as? Int == 86400)
        #expect(summary["latencySeconds"] is Double || summary["latencySeconds"] is Int)
    }

    @Test func sendWaitTimesOutWithExitSix() async throws {
        let fleet = try await Fleet.start { $0.echoDelay = 3600 }
        defer { Task { await fleet.stop() } }
        let result = try await fleet.tsee("send", fleet.sensor, "1500", "reportInterval=600", "--wait", "2s")
        #expect(result.status == 6)
        #expect(result.stderr.contains("did not echo it within 2 s"))
    }
}
