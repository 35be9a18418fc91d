import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Fleet operations through the built binary: selections, bulk changes, partial failures, export.
@Suite(.serialized) struct FleetOperationTests {
    /// TUIDs and their battery, from `things` (the fleet view) of the whole fleet.
    func batteries(_ fleet: Fleet) async throws -> [String: Double] {
        let all = try await fleet.tsee("things", "--columns", "tuid,battery")
        let rows = try #require(all.json as? [[String: Any]], "\(all.stderr)")
        var result: [String: Double] = [:]
        for row in rows { result[row["tuid"] as! String] = row["battery"] as? Double }
        return result
    }

    @Test func bulkQuarantineOfTheLowBatteryDevicesIsOneCommand() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let low = Set(try await batteries(fleet).filter { $0.value < 20 }.keys)
        #expect(!low.isEmpty)

        // Without a terminal, --yes is required: nothing is sent.
        let refused = try await fleet.tsee("install", "--where", "battery below 20", "quarantine")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--yes") && refused.stderr.contains("\(low.count) device"))
        #expect(await fleet.requests.mutating == 0)

        // --dry-run shows every request and sends none.
        let dry = try await fleet.tsee("install", "--where", "battery below 20", "quarantine", "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        let planned = try #require(dry.json as? [[String: Any]])
        #expect(Set(planned.compactMap { $0["tuid"] as? String }) == low)
        #expect(
            planned.allSatisfy {
                ($0["request"] as? String)?.contains("\"installation_status\":\"quarantine\"") == true
            })
        #expect(await fleet.requests.mutating == 0)

        let done = try await fleet.tsee("install", "--where", "battery below 20", "quarantine", "--yes")
        #expect(done.status == 0, "\(done.stderr)")
        let rows = try #require(done.json as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["tuid"] as? String }) == low)
        #expect(rows.allSatisfy { $0["result"] as? String == "ok" })
        #expect(await fleet.requests.mutating == low.count)
        let quarantined = try await fleet.tsee("things", "--where", "status is quarantine", "--columns", "tuid")
        #expect(Set((quarantined.json as? [[String: Any]] ?? []).compactMap { $0["tuid"] as? String }) == low)
    }

    @Test func aBatchWithSomeFailuresHasOneRowPerDeviceAndExitsFive() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let good = Array(fleet.server.deviceTUIDs().prefix(3))
        let missing = "TSPD04ZZZ00000000"
        let stdin = good.joined(separator: "\n") + "\n" + missing + "  # not in this fleet\n"
        let outcome = try await fleet.tsee("group", "assign", "-", "prfi00warehousenorth", "--yes", stdin: stdin)
        #expect(outcome.status == 5, "\(outcome.stderr)")
        let rows = try #require(outcome.json as? [[String: Any]])
        #expect(rows.count == 4)
        #expect(rows.filter { $0["result"] as? String == "ok" }.compactMap { $0["tuid"] as? String } == good)
        let failed = rows.first { $0["tuid"] as? String == missing }
        #expect(failed?["result"] as? String == "failed" && (failed?["error"] as? String)?.contains("404") == true)
        #expect(outcome.stderr.contains("1 of 4 devices failed"))
        let members = try await fleet.tsee("group", "things", "prfi00warehousenorth")
        let tuids = Set((members.json as? [String: Any])?["tuids"] as? [String] ?? [])
        #expect(Set(good).isSubset(of: tuids))
    }

    @Test func bulkSendGivesEachDeviceItsOwnTransaction() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let sent = try await fleet.tsee(
            "send", "--group", "prfi00coldchain", "1500", "reportInterval=600", "--yes")
        #expect(sent.status == 0, "\(sent.stderr)")
        let rows = try #require(sent.json as? [[String: Any]])
        #expect(!rows.isEmpty && rows.allSatisfy { $0["result"] as? String == "ok" })
        let transactions = rows.compactMap { ($0["detail"] as? String)?.split(separator: " ")[1] }
        #expect(Set(transactions).count == rows.count)
        #expect(await fleet.requests.mutating == rows.count)
        let withWait = try await fleet.tsee("send", "--group", "prfi00coldchain", "1500", "--wait", "--yes")
        #expect(withWait.status == 2)
    }

    @Test func uncheckedAndHeaderOnlyCommands() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let refused = try await fleet.tsee("send", fleet.sensor, "12211", "hallMode=1")
        #expect(refused.status == 2 && refused.stderr.contains("--unchecked"))
        let dry = try await fleet.tsee("send", fleet.sensor, "17220", "orientation=1", "--unchecked", "--dry-run")
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(((dry.json as? [[String: Any]])?.first?["request"] as? String)?.contains("\"orientation\":1") == true)
        let headerOnly = try await fleet.tsee("send", fleet.sensor, "1500", "--dry-run")
        #expect(headerOnly.status == 0, "\(headerOnly.stderr)")
        let request = (headerOnly.json as? [[String: Any]])?.first?["request"] as? String ?? ""
        #expect(request.contains("\"tsmId\":1500") && !request.contains("Interval"))
        #expect(await fleet.requests.mutating == 0)
    }

    @Test func exportHasEveryMessageOfTheWindowAsTheSimulatorServesIt() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let end = Int64(fleet.server.now.timeIntervalSince1970) - 60
        let start = end - 10 * 86400
        let tuid = fleet.sensor
        // The simulator's own data: one read with a limit larger than the window holds.
        let reference = try await Self.simulatorMessages(fleet, tuid, from: start, to: end)
        #expect(reference.count > 1000, "the window spans several pages")

        let jsonl = try await fleet.tsee(
            "export", "messages", tuid, "--from", String(start), "--to", String(end), "-o", "jsonl")
        #expect(jsonl.status == 0, "\(jsonl.stderr)")
        let lines = jsonl.stdout.split(separator: "\n").map {
            try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        func key(_ m: [String: Any]) -> String { "\(m["tsmId"]!):\(m["tsmEv"]!):\(m["tsmTs"]!)" }
        #expect(lines.map(key).sorted() == reference.map(key).sorted())
        let times = lines.compactMap { $0["tsmTs"] as? Int }
        #expect(times == times.sorted())

        let csv = try await fleet.tsee(
            "export", "messages", tuid, "--from", String(start), "--to", String(end), "--id", "12100")
        #expect(csv.status == 0, "\(csv.stderr)")
        let rows = csv.stdout.split(separator: "\r\n")
        #expect(rows.first?.hasPrefix("tuid,tsmId,tsmEv,tsmTs,") == true)
        #expect(rows.first?.contains(",temp") == true)
        #expect(rows.count - 1 == reference.filter { $0["tsmId"] as? Int == 12100 }.count)
        #expect(rows.dropFirst().allSatisfy { $0.hasPrefix("\(tuid),12100,") && $0.contains("Z,") })
    }

    /// `GET /things/{tuid}/messages` straight from the simulator, all at once.
    static func simulatorMessages(_ fleet: Fleet, _ tuid: String, from: Int64, to: Int64) async throws
        -> [[String: Any]]
    {
        var login = URLRequest(url: fleet.url.appendingPathComponent("auth/client-token"))
        login.httpMethod = "POST"
        login.setValue("application/json", forHTTPHeaderField: "Content-Type")
        login.httpBody = Data(#"{"client_id":"sim","client_secret":"sim-secret"}"#.utf8)
        let (body, _) = try await URLSession.shared.data(for: login)
        let token = (try JSONSerialization.jsonObject(with: body) as! [String: Any])["data"] as! [String: Any]
        var components = URLComponents(
            url: fleet.url.appendingPathComponent("things/\(tuid)/messages"), resolvingAgainstBaseURL: false)!
        components.queryItems = [
            URLQueryItem(name: "limit", value: "1000000"), URLQueryItem(name: "from", value: String(from)),
            URLQueryItem(name: "to", value: String(to)),
        ]
        var request = URLRequest(url: components.url!)
        request.setValue(
            "Bearer \(token["token"] as? String ?? token["access_token"] as! String)",
            forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return (try JSONSerialization.jsonObject(with: data) as! [String: Any])["data"] as! [[String: Any]]
    }
}
