import Foundation
import Simulator
import Testing

@Suite("Errors over HTTP")
struct ValidationTests {
    private func expectError(
        _ reply: Reply, _ status: Int, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(reply.status == status, sourceLocation: sourceLocation)
        #expect(reply.error.sortedKeys == ["error", "message", "statusCode"], sourceLocation: sourceLocation)
        #expect(int(reply.error["statusCode"]) == status, sourceLocation: sourceLocation)
        #expect(reply.error["error"] as? String == reason, sourceLocation: sourceLocation)
        #expect((reply.error["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    }

    @Test func badRequests() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            let tuid = server.deviceTUIDs()[1]
            expectError(try await client.get("/things/\(tuid)/messages"), 400, "Bad Request")
            expectError(try await client.get("/things/\(tuid)/messages?limit=0"), 400, "Bad Request")
            expectError(try await client.get("/things/\(tuid)/messages?limit=ten"), 400, "Bad Request")
            expectError(try await client.get("/things/\(tuid)/messages?limit=5&from=yesterday"), 400, "Bad Request")
            expectError(
                try await client.post("/things/\(tuid)/commands", [["tsmId": 1234, "tsmEv": 30, "transactionId": 1]]),
                400, "Bad Request")
            expectError(
                try await client.post(
                    "/things/\(tuid)/commands", [["tsmId": 1500, "tsmEv": 30, "transactionId": 2_147_483_648]]),
                400, "Bad Request")
            expectError(
                try await client.post("/things/\(tuid)/installations", ["installation_status": "broken"]),
                400, "Bad Request")
            expectError(try await client.post("/groups", ["group_id": "two words"]), 400, "Bad Request")
            expectError(try await client.post("/groups", ["group_id": "unassigned"]), 400, "Bad Request")
            expectError(try await client.post("/groups", ["group_id": ""]), 400, "Bad Request")
            expectError(try await client.send("DELETE", "/groups/unassigned"), 400, "Bad Request")
            expectError(try await client.send("POST", "/groups", rawBody: "{not json"), 400, "Bad Request")
            // A batch with one bad command is refused whole.
            _ = try await client.post(
                "/things/\(tuid)/commands",
                [["tsmId": 1500, "tsmEv": 30, "transactionId": 3], ["tsmId": 9, "tsmEv": 30, "transactionId": 4]])
            #expect(try await client.get("/things/\(tuid)/commands").list.isEmpty)
        }
    }

    @Test func unauthorized() async throws {
        try await withSimulator({ $0.tokenTTL = 6 }) { server, anonymous in
            let tuid = server.deviceTUIDs()[1]
            expectError(try await anonymous.get("/things/\(tuid)"), 401, "Unauthorized")
            expectError(
                try await TestClient(base: anonymous.base, token: "made-up").get("/groups"), 401, "Unauthorized")
            expectError(
                try await anonymous.post("/auth/client-token", ["client_id": "sim", "client_secret": "wrong"]),
                401, "Unauthorized")

            let first = try await anonymous.loggedIn()
            let second = try await anonymous.loggedIn()
            #expect(first.token != second.token)
            #expect(try await first.get("/groups").status == 200)
            #expect(try await second.get("/groups").status == 200)
            // Generous margins: the machine running the tests may be loaded.
            try await Task.sleep(for: .milliseconds(6_500))
            expectError(try await first.get("/groups"), 401, "Unauthorized")
            #expect(try await anonymous.loggedIn().get("/groups").status == 200)
            #expect(await server.stats.unauthorized == 4)
        }
    }

    @Test func notFoundAndConflict() async throws {
        try await withSimulator { _, anonymous in
            let client = try await anonymous.loggedIn()
            expectError(try await client.get("/things/TSPD04XXX00000000"), 404, "Not Found")
            expectError(try await client.get("/things/TSPD04XXX00000000/messages?limit=1"), 404, "Not Found")
            expectError(
                try await client.post("/things/TSPD04XXX00000000/group", ["group_id": "prfi00coldchain"]), 404, "Not Found")
            expectError(try await client.get("/groups/no-such-group/things"), 404, "Not Found")
            expectError(try await client.send("DELETE", "/groups/no-such-group"), 404, "Not Found")
            expectError(try await client.post("/groups", ["group_id": "prfi00coldchain"]), 409, "Conflict")
        }
    }

    @Test func unknownRoutesAnswerAPIGatewaysMissingAuthenticationToken() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            for reply in [
                try await client.get("/no/such/route"), try await client.send("PUT", "/groups"),
                try await anonymous.get("/no/such/route"), try await client.get("/things/\(server.deviceTUIDs()[1])/nothing"),
            ] {
                #expect(reply.status == 403)
                #expect(reply.error.sortedKeys == ["message"])
                #expect(reply.error["message"] as? String == "Missing Authentication Token")
                #expect(reply.header("Date") != nil)
            }
            // Outside the base path too, as when a client is configured with a wrong base URL.
            let root = anonymous.base.deletingLastPathComponent().deletingLastPathComponent()
            let wrongBase = try await TestClient(base: root.appendingPathComponent("v1")).post(
                "/auth/client-token", ["client_id": "sim", "client_secret": "sim-secret"])
            #expect(wrongBase.status == 403)
            #expect(wrongBase.error["message"] as? String == "Missing Authentication Token")
            #expect(await server.stats.byRoute["GET (unknown)"] == 3)
        }
    }

    @Test func assigningToAnUnknownGroupIsNotFound() async throws {
        try await withSimulator { server, anonymous in
            let client = try await anonymous.loggedIn()
            expectError(
                try await client.post("/things/\(server.deviceTUIDs()[1])/group", ["group_id": "nowhere"]), 404,
                "Not Found")
        }
    }
}
