import Foundation
import Testing

@testable import ThingseeAPI

/// Paging by time against a server that caps pages below `limit` and mixes unusable items into them, and the
/// calls Haltian's own clients make that the seed document lacks.
@Suite("Paging and the real API's extra calls", .timeLimit(.minutes(1)))
struct ClientPagingTests {
    static let tuid = "TSPD04ESY93100802"

    /// Three messages a second for 100 s, newest first, at most `cap` a page whatever `limit` says, each page
    /// also carrying an outgoing command row and a network-down event without `tsmTs`.
    static func cappedMessages(cap: Int) -> FaultServer.Script {
        let all = (0..<300).map { i in (ts: 1000 + i / 3, id: [1110, 12100, 13100][i % 3]) }
        return { request in
            guard request.route == "/things/\(tuid)/messages" else { return nil }
            let q = request.query
            let from = Int(q["from"] ?? "") ?? .min
            let to = Int(q["to"] ?? "") ?? .max
            let limit = Int(q["limit"] ?? "") ?? 1000
            let page = all.filter { $0.ts >= from && $0.ts <= to }.sorted { $0.ts > $1.ts }.prefix(min(limit, cap))
            var items = page.map { #"{"tsmId": \#($0.id), "tsmEv": 10, "tsmTs": \#($0.ts), "tsmTuid": "\#(tuid)"}"# }
            items.insert(#"{"tsmId": 1500, "tsmEv": 30, "tsmTs": 1050, "tsmDstTuid": "\#(tuid)"}"#, at: items.count / 2)
            items.append(#"{"tsmId": 17100, "tsmEv": 18, "tsmTuid": "\#(tuid)"}"#)
            return .respond(status: 200, body: #"{"data": [\#(items.joined(separator: ","))]}"#)
        }
    }

    @Test func aShortPageIsNotTheEnd() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 40)) { server in
            let client = try server.client()
            let batch = try await client.allMessagesCounted(Self.tuid, from: 0, to: 5000, pageSize: 1000)
            #expect(batch.messages.count == 300)
            #expect(Set(batch.messages.map(\.deduplicationKey)).count == 300)
            #expect(zip(batch.messages, batch.messages.dropFirst()).allSatisfy { $0.tsmTs <= $1.tsmTs })
            // The same two unusable items come back on every page: counted once each.
            #expect(batch.skipped == 2)
            #expect(batch.pages == server.apiRequests.count)
            #expect(batch.pages >= 8)
            #expect(try await client.allMessages(Self.tuid, from: 0, to: 5000).count == 300)
            await client.shutdown()
        }
    }

    @Test func pagingStopsWhenAPageBringsNothingNew() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 1000)) { server in
            let client = try server.client()
            let batch = try await client.allMessagesCounted(Self.tuid, from: 1090, pageSize: 1000)
            #expect(batch.messages.count == 30)
            // One page with everything, one that confirms nothing older is left.
            #expect(batch.pages == 2)
            await client.shutdown()
        }
    }

    @Test func aPageShorterThanTheServerHasShownTakesOneRequest() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 1000)) { server in
            let client = try server.client()
            // A fresh client confirms a short page by asking from before the range: the answer reaches past
            // `from` (proving the range complete) and is longer than the range (proving the server's capacity).
            let first = try await client.allMessagesCounted(Self.tuid, from: 1090, pageSize: 1000)
            #expect(first.messages.count == 30 && first.pages == 2)
            #expect(first.messages.allSatisfy { $0.tsmTs >= 1090 })
            #expect(client.provenPageCapacity == 275)
            #expect(server.apiRequests.last?.query["from"] == "0")
            // Later short pages are complete on their own.
            let before = server.apiRequests.count
            let second = try await client.allMessagesCounted(Self.tuid, from: 1080, pageSize: 1000)
            #expect(second.messages.count == 60 && second.pages == 1)
            #expect(server.apiRequests.count == before + 1)
            // A filtered read proves nothing about its completeness: it is confirmed as before.
            let filtered = try await client.allMessagesCounted(
                Self.tuid, from: 1080, pageSize: 1000, messageIDs: [1110])
            #expect(filtered.messages.count == 20 || filtered.messages.count == 60)
            #expect(filtered.pages == 2)
            await client.shutdown()
        }
    }

    @Test func aPageAsLongAsTheCapIsNeverTakenForTheEnd() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 40)) { server in
            let client = try server.client()
            // Whatever the client learned before, pages the length of the cap are followed to the end.
            for _ in 0..<2 {
                let batch = try await client.allMessagesCounted(Self.tuid, from: 0, pageSize: 1000)
                #expect(batch.messages.count == 300)
            }
            #expect(client.provenPageCapacity == 42)
            await client.shutdown()
        }
    }

    @Test func maxPagesBoundsTheRequests() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 10)) { server in
            let client = try server.client()
            let batch = try await client.allMessagesCounted(Self.tuid, from: 0, pageSize: 10, maxPages: 3)
            #expect(batch.pages == 3)
            #expect(server.apiRequests.count == 3)
            #expect(batch.messages.count < 300)
            await client.shutdown()
        }
    }

    @Test func onePageSkipsWhatItCannotUse() async throws {
        try await FaultServer.with(Self.cappedMessages(cap: 5)) { server in
            let client = try server.client()
            let batch = try await client.messagesCounted(Self.tuid, MessageQuery(limit: 5, from: 0))
            #expect(batch.messages.count == 5)
            #expect(batch.skipped == 2)
            #expect(try await client.messages(Self.tuid, MessageQuery(limit: 5)).count == 5)
            await client.shutdown()
        }
    }

    @Test func fleetAlertCallsGroupOfAndLimits() async throws {
        try await FaultServer.with({ request in
            switch request.route {
            case "/things/alerts":
                return .respond(status: 200, body: #"{"data": {"alerting_tuids": ["\#(Self.tuid)", "TSGW01ABCDEFGHIJK"]}}"#)
            case "/things/alerts/count":
                return .respond(status: 200, body: #"{"data": {"alert_count": "207"}}"#)
            case "/things/\(Self.tuid)/group":
                return .respond(status: 200, body: #"{"data": {"tuid": "\#(Self.tuid)", "group_id": "prfi00haltianhq"}}"#)
            case "/things/\(Self.tuid)/installations":
                return .respond(
                    status: 200, body: #"{"data": [{"tuid": "\#(Self.tuid)", "installation_status": "installed"}]}"#)
            case "/things/\(Self.tuid)/commands":
                return .respond(status: 200, body: #"{"data": []}"#)
            default:
                return nil
            }
        }) { server in
            let client = try server.client()
            #expect(try await client.alertingTUIDs() == [Self.tuid, "TSGW01ABCDEFGHIJK"])
            #expect(try await client.alertCount() == 207)
            #expect(try await client.groupOf(Self.tuid) == "prfi00haltianhq")
            #expect(try await client.installations(Self.tuid, limit: 1).first?.installationStatus == "installed")
            _ = try await client.installations(Self.tuid)
            _ = try await client.commandHistory(Self.tuid, limit: 0)
            let queries = server.apiRequests.map { "\($0.route) \($0.query["limit"] ?? "-")" }
            #expect(
                queries.suffix(3) == [
                    "/things/\(Self.tuid)/installations 1", "/things/\(Self.tuid)/installations -",
                    "/things/\(Self.tuid)/commands 0",
                ])
            await client.shutdown()
        }
    }
}
