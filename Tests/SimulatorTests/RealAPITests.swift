import Foundation
import Simulator
import Testing

/// What the simulator serves beyond the seed document, as Haltian's clients and specification show the real API.
@Suite("Real API over HTTP")
struct RealAPITests {
    @Test func fleetAlertCallsListAndCountTheAlertingDevices() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let list = try await client.get("/things/alerts")
            #expect(list.status == 200)
            #expect(list.object.sortedKeys == ["alerting_tuids"])
            let tuids = try #require(list.object["alerting_tuids"] as? [String])
            #expect(!tuids.isEmpty)
            #expect(Set(tuids) == Set(server.alertingTUIDs()))
            for tuid in tuids {
                let alerts = try await client.get("/things/\(tuid)/alerts")
                let periods = try #require(alerts.list.first?["alerts"] as? [[String: Any]])
                #expect(periods.first?["to"] == nil, "\(tuid) has an ongoing alert")
            }
            let count = try await client.get("/things/alerts/count")
            #expect(count.object.sortedKeys == ["alert_count"])
            // A string, as the API specification has it.
            #expect(count.object["alert_count"] as? String == String(tuids.count))
            #expect(String(decoding: count.raw, as: UTF8.self) == #"{"data":{"alert_count":"\#(tuids.count)"}}"#)
            #expect(await server.stats.byRoute["GET /things/alerts"] == 1)
            #expect(await server.stats.byRoute["GET /things/alerts/count"] == 1)
            #expect(try await anonymous.get("/things/alerts").status == 401)
        }
    }

    /// `--no-fleet-alerts`: a deployment without the fleet-wide calls, answered as API Gateway answers a route it
    /// does not have; the per-device call still works.
    @Test func withoutFleetAlertCallsTheyAnswerMissingAuthenticationToken() async throws {
        try await withSimulator({ $0.fleetAlertCalls = false }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            for path in ["/things/alerts", "/things/alerts/count"] {
                let answer = try await client.get(path)
                #expect(answer.status == 403)
                #expect(String(decoding: answer.raw, as: UTF8.self) == #"{"message":"Missing Authentication Token"}"#)
            }
            let tuid = try #require(server.alertingTUIDs().first)
            #expect(try await client.get("/things/\(tuid)/alerts").status == 200)
        }
    }

    @Test func groupOfAThing() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let fleet = await server.fleetSnapshot
            let tuid = try #require(server.deviceTUIDs().first { fleet.group(of: $0) != Fleet.unassigned })
            let reply = try await client.get("/things/\(tuid)/group")
            #expect(reply.status == 200)
            #expect(reply.object.sortedKeys == ["group_id", "tuid"])
            #expect(reply.object["tuid"] as? String == tuid)
            #expect(reply.object["group_id"] as? String == fleet.group(of: tuid))
            _ = try await client.post("/things/\(tuid)/group", ["group_id": "unassigned"])
            #expect(try await client.get("/things/\(tuid)/group").object["group_id"] as? String == "unassigned")
            let missing = try await client.get("/things/TSPD04XXX00000000/group")
            #expect(missing.status == 404)
            #expect(missing.error.sortedKeys == ["error", "message", "statusCode"])
        }
    }

    @Test func renamingAGroupMovesItsDevicesAndRefusesWhatCreateRefuses() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            #expect(try await client.post("/groups", ["group_id": "dmfi00lab", "group_description": "Lab"]).status == 200)
            _ = try await client.post("/things/\(tuid)/group", ["group_id": "dmfi00lab"])

            let renamed = try await client.post("/groups/dmfi00lab/rename", ["group_id": "dmfi00testlab"])
            #expect(renamed.status == 200)
            #expect(renamed.object.sortedKeys == ["group_description", "group_id"])
            #expect(renamed.object["group_id"] as? String == "dmfi00testlab")
            #expect(renamed.object["group_description"] as? String == "Lab")
            let ids = try await client.get("/groups").list.compactMap { $0["group_id"] as? String }
            #expect(ids.contains("dmfi00testlab") && !ids.contains("dmfi00lab"))
            #expect(try await client.get("/groups/dmfi00testlab/things").object["tuids"] as? [String] == [tuid])
            #expect(try await client.get("/things/\(tuid)/group").object["group_id"] as? String == "dmfi00testlab")
            let message = try await client.get("/things/\(tuid)/messages?limit=1")
            #expect(message.list.first?["deploymentGroupId"] as? String == "dmfi00testlab")

            let existing = try #require(ids.first { $0 != "dmfi00testlab" })
            #expect(try await client.post("/groups/dmfi00testlab/rename", ["group_id": existing]).status == 409)
            #expect(try await client.post("/groups/dmfi00lab/rename", ["group_id": "dmfi00other"]).status == 404)
            #expect(try await client.post("/groups/unassigned/rename", ["group_id": "dmfi00other"]).status == 400)
            #expect(try await client.post("/groups/dmfi00testlab/rename", ["group_id": "unassigned"]).status == 400)
            #expect(try await client.post("/groups/dmfi00testlab/rename", ["group_id": "two words"]).status == 400)
            let long = String(repeating: "a", count: 65)
            #expect(try await client.post("/groups/dmfi00testlab/rename", ["group_id": long]).status == 400)
            #expect(try await client.post("/groups/dmfi00testlab/rename", ["nothing": 1]).status == 400)
            let stats = await server.stats
            #expect(stats.byRoute["POST /groups/{groupid}/rename"] == 8)
            #expect(stats.mutatingApplied == 3)
        }
    }

    @Test func groupIDsUpToSixtyFourCharactersOutsideTheConventionAreAccepted() async throws {
        try await withSimulator { _, anonymous in
            let client = try await anonymous.loggedIn()
            #expect(try await client.post("/groups", ["group_id": "prfi00" + String(repeating: "a", count: 58)]).status == 200)
            #expect(try await client.post("/groups", ["group_id": "prfi00" + String(repeating: "b", count: 59)]).status == 400)
            #expect(try await client.post("/groups", ["group_id": "Not-The-Convention"]).status == 200)
        }
    }

    @Test func historiesTakeALimit() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[2]
            _ = try await client.post("/things/\(tuid)/installations", ["installation_status": "quarantine"])
            let newest = try await client.get("/things/\(tuid)/installations?limit=1")
            #expect(newest.list.map { $0["installation_status"] as? String } == ["quarantine"])
            #expect(try await client.get("/things/\(tuid)/installations?limit=0").list.count == 3)
            #expect(try await client.get("/things/\(tuid)/installations").list.count == 3)
            #expect(try await client.get("/things/\(tuid)/installations?limit=2").list.count == 2)
            #expect(try await client.get("/things/\(tuid)/installations?limit=-1").status == 400)
            #expect(try await client.get("/things/\(tuid)/installations?limit=one").status == 400)

            for tx in [1, 2, 3] {
                _ = try await client.post(
                    "/things/\(tuid)/commands", [["tsmId": 1500, "tsmEv": 30, "transactionId": tx, "reportInterval": 600]])
            }
            let command = try await client.get("/things/\(tuid)/commands?limit=1")
            #expect(command.list.count == 1)
            #expect(int((command.list.first?["command"] as? [String: Any])?["transactionId"]) == 3)
            #expect(try await client.get("/things/\(tuid)/commands?limit=0").list.count == 3)
            #expect(try await client.get("/things/\(tuid)/commands?limit=-2").status == 400)
        }
    }

    /// Polls until the device's echoes number `count`: the test waits for simulated time, not for a fixed span.
    private func echoes(_ client: TestClient, _ tuid: String, count: Int) async throws -> [[String: Any]] {
        for _ in 0..<2_000 {
            let list = try await client.get("/things/\(tuid)/messages?limit=50&eventid=31").list
            if list.count >= count { return list }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("no \(count) echoes")
        return []
    }

    @Test func commandsWithoutTransactionIDForOtherIDsAndHeaderOnly() async throws {
        try await withSimulator({ $0.timeScale = 1_000; $0.echoDelay = 3 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let offline = Set(server.alertingTUIDs())
            let tuid = try #require(server.deviceTUIDs().first { $0.hasPrefix("TSPD04") && !offline.contains($0) })

            let unnumbered = try await client.post(
                "/things/\(tuid)/commands", [["tsmId": 1500, "tsmEv": 30, "reportInterval": 1_200]])
            #expect(unnumbered.status == 200)
            let sent = try #require((unnumbered.object["commands"] as? [[String: Any]])?.first)
            #expect(sent["transactionId"] == nil)
            var list = try await echoes(client, tuid, count: 1)
            #expect(list.first?["transactionId"] == nil)
            #expect(int(list.first?["reportInterval"]) == 1_200)

            // A header-only command asks for the current configuration: echoed unchanged.
            let headerOnly = try await client.post(
                "/things/\(tuid)/commands", [["tsmId": 1500, "tsmEv": 30, "transactionId": 42]])
            #expect(headerOnly.status == 200)
            list = try await echoes(client, tuid, count: 2)
            let current = try #require(list.first { int($0["transactionId"]) == 42 })
            #expect(int(current["reportInterval"]) == 1_200)
            #expect(int(current["measurementInterval"]) == 60)

            for (id, parameter) in [(12211, "hallMode"), (16200, "accelerometerMode"), (17220, "orientation")] {
                let reply = try await client.post(
                    "/things/\(tuid)/commands", [["tsmId": id, "tsmEv": 30, parameter: 1, "vendorSetting": 7]])
                #expect(reply.status == 200, "\(id)")
            }
            list = try await echoes(client, tuid, count: 5)
            let orientation = try #require(list.first { int($0["tsmId"]) == 17220 })
            #expect(int(orientation["orientation"]) == 1)
            #expect(int(orientation["vendorSetting"]) == 7, "parameters no document lists are kept")
            #expect(try await client.post("/things/\(tuid)/commands", [["tsmId": 9999, "tsmEv": 30]]).status == 400)
            #expect(try await client.get("/things/\(tuid)/commands?limit=0").list.count == 5)
        }
    }

    @Test func batteryLevelsAreWholePercent() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            for tuid in server.deviceTUIDs().prefix(8) {
                let reply = try await client.get("/things/\(tuid)/messages?limit=20&messageid=1110")
                let text = String(decoding: reply.raw, as: UTF8.self)
                #expect(!reply.list.isEmpty)
                #expect(!text.contains(#/"batl":\d+\./#), "\(text.prefix(200))")
                #expect(reply.list.allSatisfy { int($0["batl"]).map { (0...100).contains($0) } == true })
            }
        }
    }

    @Test func messagesOfAnOfflineDeviceAreWithheldUntilTheEpisodeEnds() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = try #require(server.alertingTUIDs().first { !$0.hasPrefix("TSGW") })
            let alerts = try await client.get("/things/\(tuid)/alerts")
            let from = try #require(((alerts.list.first?["alerts"] as? [[String: Any]])?.first)?["from"] as? String)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime]
            formatter.timeZone = TimeZone(identifier: "UTC")
            let start = try #require(formatter.date(from: from)).timeIntervalSince1970
            let messages = try await client.get("/things/\(tuid)/messages?limit=100").list
            #expect(!messages.isEmpty)
            #expect(messages.allSatisfy { Double(int($0["tsmTs"])!) < start }, "nothing sent since \(from) arrived")
        }
    }
}
