import Foundation
import Simulator
import TestSupport
import Testing

/// The real-API variants, each off by default, that test a client's tolerance.
@Suite("Real-API variants over HTTP")
struct VariantTests {
    @Test func pageCapBoundsEveryPage() async throws {
        try await withSimulator({ $0.pageCap = 7 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            #expect(try await client.get("/things/\(tuid)/messages?limit=100").list.count == 7)
            #expect(try await client.get("/things/\(tuid)/messages?limit=3").list.count == 3)
        }
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            #expect(try await client.get("/things/\(server.deviceTUIDs()[1])/messages?limit=100").list.count == 100)
        }
    }

    private static let header: Set<String> = ["tsmId", "tsmEv", "tsmTs", "tsmTuid", "tsmGw", "deploymentGroupId"]

    @Test func badItemsAreMixedIntoPagesTheSameWayEachTime() async throws {
        try await withSimulator({ $0.badItemRate = 0.2 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            let first = try await client.get("/things/\(tuid)/messages?limit=300")
            let second = try await client.get("/things/\(tuid)/messages?limit=300")
            #expect(first.raw == second.raw, "deterministic from the seed")
            let items = first.list
            #expect(items.count == 300)
            let withoutTUID = items.filter { $0["tsmTuid"] == nil && $0["tsmDstTuid"] == nil }
            let outgoing = items.filter { $0["tsmTuid"] == nil && $0["tsmDstTuid"] as? String == tuid }
            let withoutTime = items.filter { int($0["tsmEv"]) == 18 && $0["tsmTs"] == nil }
            #expect(!withoutTUID.isEmpty && !outgoing.isEmpty && !withoutTime.isEmpty)
            #expect(withoutTUID.allSatisfy { $0["tsmTs"] != nil && $0.count > 5 })
            #expect(outgoing.allSatisfy { int($0["tsmEv"]) == 30 })
            #expect(withoutTime.allSatisfy { $0["tsmTuid"] as? String == tuid })
            let bad = withoutTUID.count + outgoing.count + withoutTime.count
            let usable = items.filter { item in Self.header.allSatisfy { item[$0] != nil } && int(item["tsmEv"]) != 18 }
            #expect(usable.count + bad == items.count)
            #expect(await server.stats.badItems == 2 * bad)
            // The usable items are the page of a clean simulator, only fewer of them.
            let times = usable.compactMap { int($0["tsmTs"]) }
            #expect(times == times.sorted(by: >))
        }
    }

    @Test func ambiguousWritesAreAppliedThenAnswered504OrNotAtAll() async throws {
        try await withSimulator({ $0.ambiguousWriteRate = 1 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let raw = RawHTTP(base: client.base)
            let tuid = server.deviceTUIDs()[2]
            let path = client.base.path + "/things/\(tuid)/installations"
            let body = #"{"installation_status":"quarantine"}"#

            let timedOut = try await raw.exchange("POST", path, token: client.token, json: body)
            #expect(timedOut.status == 504)
            let error = try JSONSerialization.jsonObject(with: Data(timedOut.body)) as? [String: Any]
            #expect(error?.keys.sorted() == ["message"])
            #expect(error?["message"] as? String == "Endpoint request timed out")

            let dropped = try await raw.exchange("POST", path, token: client.token, json: body)
            #expect(dropped.status == nil, "the connection is closed without an answer")
            #expect(dropped.closed)

            // Both were applied.
            let history = try await client.get("/things/\(tuid)/installations?limit=0")
            #expect(history.list.map { $0["installation_status"] as? String } == ["quarantine", "quarantine", "installed", "new"])
            // Reads are never ambiguous.
            #expect(try await client.get("/things/\(tuid)").status == 200)
            let stats = await server.stats
            #expect(stats.mutating == 2)
            #expect(stats.mutatingApplied == 2)
            #expect(stats.ambiguousWrites == 2)
            #expect(stats.droppedConnections == 1)
            let url = client.base.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("_sim/stats")
            let published = try await TestClient(base: url).get("").object
            #expect(int(published["ambiguousWrites"]) == 2)
            #expect(int(published["droppedConnections"]) == 1)
            #expect(int(published["mutatingApplied"]) == 2)
        }
    }

    @Test func emptyWriteBodiesTakeTurns() async throws {
        try await withSimulator({ $0.emptyWriteBodies = true }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[2]
            var answers: [(Int, String)] = []
            for status in ["quarantine", "installed", "retired", "broken"] {
                let reply = try await client.post("/things/\(tuid)/installations", ["installation_status": status])
                answers.append((reply.status, String(decoding: reply.raw, as: UTF8.self)))
            }
            #expect(answers.map(\.0) == [204, 200, 200, 400])
            #expect(answers.map(\.1).prefix(3) == ["", "", #"{"data":"OK"}"#])
            let history = try await client.get("/things/\(tuid)/installations?limit=3").list
            #expect(history.map { $0["installation_status"] as? String } == ["retired", "installed", "quarantine"])
            // Reads keep their bodies.
            #expect(try await client.get("/things/\(tuid)/group").object["tuid"] as? String == tuid)
            #expect(await server.stats.mutatingApplied == 3)
        }
    }

    @Test func slowBodyTricklesEveryAPIAnswerButTheToken() async throws {
        // 100 ms a byte: a trickled token answer (over a hundred bytes) would take more than ten seconds, which no
        // load on this machine makes a plain login take; the comparison needs no tight wall-clock bound.
        try await withSimulator({ $0.slowBody = true; $0.slowBodyByteIntervalMs = 100 }) { server, anonymous in
            let clock = ContinuousClock()
            var start = clock.now
            let client = try await anonymous.loggedIn()
            let login = clock.now - start
            let tuid = server.deviceTUIDs()[1]
            let raw = RawHTTP(base: client.base)
            start = clock.now
            let answer = try await raw.exchange("GET", client.base.path + "/things/\(tuid)/group", token: client.token)
            let elapsed = clock.now - start
            #expect(answer.status == 200)
            let length = try #require(answer.header("Content-Length").flatMap { Int($0) })
            #expect(answer.body.count == length)
            let json = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            #expect((json?["data"] as? [String: Any])?["tuid"] as? String == tuid)
            // At least one interval between consecutive bytes: a lower bound, which a slow machine only lengthens.
            #expect(elapsed >= .milliseconds(100 * (length - 1)))
            #expect(login < .milliseconds(100 * 100), "the token is not trickled")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func endlessBodyNeverEndsAndStopStillReturns() async throws {
        var configuration = SimulatorConfiguration()
        configuration.devices = 10
        configuration.endlessBody = true
        let server = SimulatorServer(configuration: configuration)
        let base = try await server.start()
        let client = try await TestClient(base: base).loggedIn()
        let raw = RawHTTP(base: base)
        let answer = try await raw.exchange("GET", base.path + "/groups", token: client.token, limit: 8 << 20)
        #expect(answer.status == 200)
        #expect(answer.header("Content-Length") == nil)
        #expect(!answer.closed)
        #expect(answer.body.count >= 8 << 20)
        // Writes are answered as usual.
        #expect(try await client.post("/groups", ["group_id": "dmfi00endless"]).status == 200)
        // One more read left streaming into a client that stops reading: stop() cuts it off.
        let pending = Task { try await raw.exchange("GET", base.path + "/groups", token: client.token, limit: 1 << 40) }
        while await server.stats.byRoute["GET /groups"] != 2 { try await Task.sleep(for: .milliseconds(5)) }
        await server.stop()
        let cut = try await pending.value
        #expect(cut.closed)
    }

    @Test func gzipBombIsAValidGzipStreamThatInflatesAHundredAndFiftyfold() async throws {
        let size = 8 << 20
        try await withSimulator({ $0.gzipBomb = true; $0.gzipBombBytes = size }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let raw = RawHTTP(base: client.base)
            let answer = try await raw.exchange("GET", client.base.path + "/things/\(server.deviceTUIDs()[1])", token: client.token)
            #expect(answer.status == 200)
            #expect(answer.header("Content-Encoding") == "gzip")
            let length = try #require(answer.header("Content-Length").flatMap { Int($0) })
            #expect(answer.body.count == length)
            #expect(length * 150 < size)
            let inflated = try gunzip(answer.body)
            #expect(inflated.count > size - 258 && inflated.count <= size)
            #expect(inflated.starts(with: Array(#"{"data":"xxxx"#.utf8)))
            #expect(inflated.suffix(3).elementsEqual(Array(#"x"}"#.utf8)))
        }
    }

    @Test(arguments: [12, 100, 2_100, 5_000])
    func smallGzipBombsAreExact(size: Int) async throws {
        try await withSimulator({ $0.gzipBomb = true; $0.gzipBombBytes = size }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let answer = try await RawHTTP(base: client.base).exchange(
                "GET", client.base.path + "/groups", token: client.token)
            let inflated = try gunzip(answer.body)
            let xs = 1 + (size - 12) / 258 * 258
            #expect(inflated == Array(#"{"data":""#.utf8) + Array(repeating: UInt8(ascii: "x"), count: xs) + Array(#""}"#.utf8))
        }
    }

    /// Inflates with the system's gzip, which also checks the CRC and the length in the trailer.
    private func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-bomb-\(UUID().uuidString).gz")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "gzip -t \"$0\" && gzip -dc \"$0\"", file.path]
        let output = Pipe()
        process.standardOutput = output
        let exited = ProcessExit(process)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        #expect(exited.wait() == 0, "gzip accepts the stream")
        return Array(data)
    }
}
