import Foundation
import Simulator
import Testing

@Suite("Endpoints over HTTP")
struct EndpointTests {
    @Test func tokenAndThingInfoShapes() async throws {
        try await withSimulator { server, anonymous in
            let login = try await anonymous.post(
                "/auth/client-token", ["client_id": "sim", "client_secret": "sim-secret"])
            #expect(login.status == 200)
            #expect(login.object.sortedKeys == ["token"])
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            let reply = try await client.get("/things/\(tuid)")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "application/json")
            #expect(reply.object.sortedKeys == ["battery_level", "gateway_tuid", "location", "timestamp", "version"])
            let location = try #require(reply.object["location"] as? [String: Any])
            #expect(location.sortedKeys == ["lat", "lon"])
            #expect(double(location["lat"]) != nil)
            #expect((0...100).contains(try #require(int(reply.object["battery_level"]))))
            #expect((reply.object["gateway_tuid"] as? String)?.hasPrefix("TSGW01") == true)
            #expect(int(reply.object["timestamp"])! > 1_600_000_000)
        }
    }

    @Test func messagesShapeOrderAndFilters() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            let reply = try await client.get("/things/\(tuid)/messages?limit=30")
            #expect(reply.status == 200)
            let messages = reply.list
            #expect(messages.count == 30)
            for message in messages {
                for key in ["tsmId", "tsmEv", "tsmTs", "tsmTuid", "tsmGw", "deploymentGroupId"] {
                    #expect(message[key] != nil, "missing \(key)")
                }
                #expect(message["tsmTuid"] as? String == tuid)
                #expect(message.count > 6, "a message carries properties")
            }
            let times = messages.compactMap { int($0["tsmTs"]) }
            #expect(times == times.sorted(by: >))

            let battery = try await client.get("/things/\(tuid)/messages?limit=5&messageid=1110&eventid=10")
            #expect(battery.list.count == 5)
            #expect(
                battery.list.allSatisfy { int($0["tsmId"]) == 1110 && double($0["batl"]) != nil && $0["chrg"] != nil })

            let newest = try #require(times.first)
            let window = try await client.get("/things/\(tuid)/messages?limit=1000&from=\(newest - 3600)&to=\(newest)")
            let windowTimes = window.list.compactMap { int($0["tsmTs"]) }
            #expect(!windowTimes.isEmpty)
            #expect(windowTimes.allSatisfy { $0 >= newest - 3600 && $0 <= newest })
            #expect(windowTimes.contains(newest), "to is inclusive")
        }
    }

    @Test func catalogueFieldsPerMessageID() async throws {
        try await withSimulator({ $0.devices = 300 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let expected: [Int: [String]] = [
                1110: ["batl", "chrg"], 12100: ["airp", "humd", "lght", "temp"], 12101: ["hall", "hallCount"],
                13100: ["moveCount"], 13103: ["in", "out", "totalIn", "totalOut"], 2100: ["state"],
                17100: ["dist"], 24100: ["carbonDioxide"], 24101: ["tvoc"],
            ]
            var seen = Set<Int>()
            for prefix in ["TSPD04", "TSPR04", "TSTF01", "TSAR01", "TSAP01"] {
                let tuid = try #require(server.deviceTUIDs().first { $0.hasPrefix(prefix) })
                let reply = try await client.get("/things/\(tuid)/messages?limit=40")
                for message in reply.list {
                    let id = try #require(int(message["tsmId"]))
                    let fields = message.keys.filter {
                        !["tsmId", "tsmEv", "tsmTs", "tsmTuid", "tsmGw", "deploymentGroupId"].contains($0)
                    }.sorted()
                    #expect(fields == expected[id], "\(prefix) \(id)")
                    seen.insert(id)
                }
            }
            #expect(seen == Set(expected.keys))
            let airQuality = try #require(server.deviceTUIDs().first { $0.hasPrefix("TSPD04") })
            let env = try await client.get("/things/\(airQuality)/messages?limit=1&messageid=12100")
            let pressure = try #require(double(env.list.first?["airp"]))
            #expect((98_000...104_000).contains(pressure))
        }
    }

    @Test func alertsShape() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let fleet = await server.fleetSnapshot
            let open = try #require(fleet.tuidsWithOpenAlert(at: server.now.timeIntervalSince1970).first)
            let reply = try await client.get("/things/\(open)/alerts")
            #expect(reply.status == 200)
            let entry = try #require(reply.list.first)
            #expect(entry.sortedKeys == ["alert_type", "alerts", "tuid"])
            #expect(entry["alert_type"] as? String == "gateway connection lost")
            #expect(entry["tuid"] as? String == open)
            let periods = try #require(entry["alerts"] as? [[String: Any]])
            let current = try #require(periods.first)
            #expect(current["to"] == nil, "an ongoing episode has no to")
            let from = try #require(current["from"] as? String)
            #expect(from.count == 19 && from.contains("T") && !from.hasSuffix("Z"))

            let now = Int(server.now.timeIntervalSince1970)
            let none = try await client.get(
                "/things/\(open)/alerts?from=\(now - 7 * 86_400)&to=\(now - 7 * 86_400 + 1)")
            #expect(none.status == 200)
            #expect((none.data as? [Any])?.isEmpty == true)
        }
    }

    @Test func commandsRoundTripWithEchoAndHistory() async throws {
        try await withSimulator({
            $0.timeScale = 100; $0.echoDelay = 3
        }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = try #require(server.deviceTUIDs().first { $0.hasPrefix("TSPD04") || $0.hasPrefix("TSEN01") })
            let command: [String: Any] = [
                "tsmId": 1500, "tsmEv": 30, "transactionId": 99_999, "measurementInterval": 60, "reportInterval": 5,
            ]
            let reply = try await client.post("/things/\(tuid)/commands", [command])
            #expect(reply.status == 200)
            #expect(reply.object.sortedKeys == ["commands", "responsible"])
            #expect(reply.object["responsible"] as? String == "api-user")
            let sent = try #require((reply.object["commands"] as? [[String: Any]])?.first)
            #expect(
                sent.sortedKeys
                    == [
                        "measurementInterval", "reportInterval", "transactionId", "tsmDstTuid", "tsmEv", "tsmId",
                        "tsmTs",
                    ])
            #expect(int(sent["tsmEv"]) == 30)
            #expect(sent["tsmDstTuid"] as? String == tuid)
            let commandTs = try #require(int(sent["tsmTs"]))

            // 3 simulated seconds at 100× pass in 30 ms; wait for a few reports at the new 10 s cadence.
            try await Task.sleep(for: .milliseconds(600))
            let echoes = try await client.get("/things/\(tuid)/messages?limit=5&eventid=31")
            let echo = try #require(echoes.list.first)
            #expect(int(echo["tsmId"]) == 1500)
            #expect(int(echo["tsmEv"]) == 31)
            #expect(int(echo["transactionId"]) == 99_999)
            #expect(int(echo["reportInterval"]) == 10)
            #expect(int(echo["measurementInterval"]) == 60)
            #expect(int(echo["tsmTs"])! - commandTs == 3)

            let reports = try await client.get("/things/\(tuid)/messages?limit=4&messageid=12100&from=\(commandTs + 4)")
            let times = reports.list.compactMap { int($0["tsmTs"]) }
            #expect(times.count >= 3)
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 - $1 == 10 })

            _ = try await client.post(
                "/things/\(tuid)/commands", [["tsmId": 13200, "tsmEv": 30, "transactionId": 7, "threshold": 500]])
            let history = try await client.get("/things/\(tuid)/commands")
            #expect(history.list.count == 2)
            let newest = try #require(history.list.first)
            #expect(newest.sortedKeys == ["command", "responsible", "timestamp", "tuid"])
            #expect(int((newest["command"] as? [String: Any])?["tsmId"]) == 13200)
            #expect(int((history.list.last?["command"] as? [String: Any])?["transactionId"]) == 99_999)
        }
    }

    @Test func installationsAndGroups() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[2]

            let set = try await client.post("/things/\(tuid)/installations", ["installation_status": "quarantine"])
            #expect(set.status == 200)
            #expect(set.object.sortedKeys == ["group_id", "installation_status", "tuid"])
            #expect(set.object["installation_status"] as? String == "quarantine")
            let history = try await client.get("/things/\(tuid)/installations")
            #expect(history.list.first?.sortedKeys == ["installation_status", "timestamp", "tuid"])
            #expect(history.list.map { $0["installation_status"] as? String } == ["quarantine", "installed", "new"])

            let groups = try await client.get("/groups")
            #expect(groups.list.count >= 3)
            #expect(groups.list.allSatisfy { $0.sortedKeys == ["group_description", "group_id"] })
            let search = try await client.get("/groups?q=COLD&limit=1")
            #expect(search.list.map { $0["group_id"] as? String } == ["prfi00coldchain"])

            let created = try await client.post(
                "/groups", ["group_id": "northern-finland", "group_description": "Sensors in Northern Finland"])
            #expect(created.status == 200)
            #expect(created.object["group_id"] as? String == "northern-finland")
            #expect(created.object["group_description"] as? String == "Sensors in Northern Finland")

            let assigned = try await client.post("/things/\(tuid)/group", ["group_id": "northern-finland"])
            #expect(assigned.object["group_id"] as? String == "northern-finland")
            #expect(assigned.object["installation_status"] as? String == "quarantine")
            let things = try await client.get("/groups/northern-finland/things")
            #expect(things.object.sortedKeys == ["group_id", "tuids"])
            #expect(things.object["tuids"] as? [String] == [tuid])
            let message = try await client.get("/things/\(tuid)/messages?limit=1")
            #expect(message.list.first?["deploymentGroupId"] as? String == "northern-finland")

            let deleted = try await client.send("DELETE", "/groups/northern-finland")
            #expect(deleted.status == 200)
            #expect(deleted.object["group_id"] as? String == "northern-finland")
            #expect(deleted.object["deleted"] as? Bool == true)
            let unassigned = try await client.get("/groups/unassigned/things")
            #expect((unassigned.object["tuids"] as? [String])?.contains(tuid) == true)

            let back = try await client.post("/things/\(tuid)/group", ["group_id": "prfi00coldchain"])
            #expect(back.object["group_id"] as? String == "prfi00coldchain")
            let out = try await client.post("/things/\(tuid)/group", ["group_id": "unassigned"])
            #expect(out.object["group_id"] as? String == "unassigned")
        }
    }

    @Test func dateHeaderCarriesTheSimulatedClock() async throws {
        try await withSimulator({ $0.timeScale = 3_600 }) { server, anonymous in
            let first = try await anonymous.get("/nowhere")
            try await Task.sleep(for: .milliseconds(1_100))
            let asked = ContinuousClock.now
            let second = try await anonymous.post(
                "/auth/client-token", ["client_id": "sim", "client_secret": "sim-secret"])
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
            let a = try #require(first.header("Date").flatMap(formatter.date(from:)))
            let b = try #require(second.header("Date").flatMap(formatter.date(from:)))
            // About an hour of simulated time passed in a little over a real second.
            #expect(b.timeIntervalSince(a) > 3_500)
            // The header was stamped between `asked` and now; its one-second resolution allows one hour.
            let realSeconds = Double((ContinuousClock.now - asked).components.seconds) + 1
            let lag = server.now.timeIntervalSince(b)
            #expect(lag >= -3_600 && lag <= (realSeconds + 1) * 3_600)
        }
    }

    @Test func statsCountRoutesAndMutations() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            _ = try await client.get("/things/\(tuid)")
            _ = try await client.post("/things/\(tuid)/installations", ["installation_status": "installed"])
            _ = try await client.post("/things/\(tuid)/installations", ["installation_status": "broken"])
            let stats = await server.stats
            #expect(stats.total == 4)
            #expect(stats.mutating == 2)
            #expect(stats.mutatingApplied == 1)
            #expect(stats.byRoute["GET /things/{tuid}"] == 1)
            #expect(stats.byRoute["POST /things/{tuid}/installations"] == 2)

            let url = client.base.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "_sim/stats")
            let raw = try await TestClient(base: url).get("")
            #expect(raw.status == 200)
            #expect(int(raw.object["mutating"]) == 2)
            #expect(int(raw.object["mutatingApplied"]) == 1)
            #expect(int((raw.object["byRoute"] as? [String: Any])?["POST /auth/client-token"]) == 1)
        }
    }
}
