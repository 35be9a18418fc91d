import Foundation
import Simulator
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test func failEveryAnswersEveryNthAPIRequest503() async throws {
        try await withSimulator({ $0.failEvery = 3 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            var statuses: [Int] = []
            for _ in 0..<6 {
                statuses.append(try await client.get("/groups").status)
            }
            #expect(statuses == [200, 200, 503, 200, 200, 503])
            #expect(await server.stats.unavailable == 2)
            // Token requests are never failed.
            for _ in 0..<4 {
                #expect(
                    try await anonymous.post("/auth/client-token", ["client_id": "sim", "client_secret": "sim-secret"])
                        .status == 200)
            }
        }
    }

    @Test func failRateOneFailsEveryAPIRequestWithTheErrorShape() async throws {
        try await withSimulator({ $0.failRate = 1 }) { _, anonymous in
            let client = try await anonymous.loggedIn()
            let reply = try await client.get("/groups")
            #expect(reply.status == 503)
            #expect(int(reply.error["statusCode"]) == 503)
            #expect(reply.error["error"] as? String == "Service Unavailable")
            #expect(reply.header("Date") != nil)
        }
    }

    @Test func rateLimitAnswers429WithRetryAfter() async throws {
        try await withSimulator({ $0.rateLimit = 2 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            // Sent at once, so that a loaded machine cannot spread them over more than a second.
            let replies = try await withThrowingTaskGroup(of: (Int, String?, String?).self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let reply = try await client.get("/groups")
                        return (reply.status, reply.header("Retry-After"), reply.error["error"] as? String)
                    }
                }
                return try await group.reduce(into: [(Int, String?, String?)]()) { $0.append($1) }
            }
            let limited = replies.filter { $0.0 == 429 }
            #expect(limited.count >= 3)
            #expect(limited.allSatisfy { $0.1 == "1" })
            #expect(limited.allSatisfy { $0.2 == "Too Many Requests" })
            #expect(await server.stats.rateLimited == limited.count)
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await client.get("/groups").status == 200)
        }
    }

    @Test func malformedEveryBreaksSuccessfulReadsInTurn() async throws {
        try await withSimulator({ $0.malformedEvery = 1 }) { server, anonymous in
            let client = try await anonymous.loggedIn()
            let mistyped = try await client.get("/groups")
            #expect(mistyped.status == 200)
            #expect(mistyped.list.first?["group_id"] is Int)
            let huge = try await client.get("/groups")
            #expect(huge.status == 200)
            #expect(huge.list.count == 6 * 1024)
            #expect(huge.list.first?["group_id"] == nil)
            let truncated = try await client.get("/groups")
            #expect(truncated.status == 200)
            #expect(truncated.body == nil)
            // Writes and logins are never malformed.
            #expect(try await client.post("/groups", ["group_id": "fresh"]).object["group_id"] as? String == "fresh")
            #expect(await server.stats.malformed == 3)
        }
    }

    @Test func latencyDelaysResponses() async throws {
        try await withSimulator({ $0.latencyMs = 150 }) { _, anonymous in
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await anonymous.get("/groups")
            #expect(clock.now - start >= .milliseconds(150))
        }
    }

    @Test func tenThousandDeviceServerStartsAndServes() async throws {
        try await withSimulator({ $0.devices = 10_000 }) { server, anonymous in
            #expect(server.deviceTUIDs().count == 10_000)
            let client = try await anonymous.loggedIn()
            let reply = try await client.get("/things/\(server.deviceTUIDs()[9_999])/messages?limit=3")
            #expect(reply.status == 200)
        }
    }
}
