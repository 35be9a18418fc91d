import Foundation
import Synchronization
import Testing

@testable import ThingseeAPI

/// Writes are sent again only when they certainly did not take effect; answers without a body are successes.
@Suite("Writes: no blind retry, empty answers, 403", .timeLimit(.minutes(1)))
struct ClientWriteTests {
    static let tuid = "TSPD04ESY93100802"
    static let retrying = RetryPolicy(maxAttempts: 5, baseDelay: 0.001, maxDelay: 0.002)

    @Test func aWriteAppliedThenDroppedIsAnUnknownOutcomeSentOnce() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .drop }) { server in
            let client = try server.client(retry: Self.retrying)
            await #expect {
                _ = try await client.sendCommands(
                    Self.tuid, [Command(tsmId: 1500, transactionId: 7, parameters: [("reportInterval", 600)])])
            } throws: { error in
                guard let e = error as? ThingseeError, case .outcomeUnknown("POST /things/\(Self.tuid)/commands", nil, _) = e
                else { return false }
                return e.description.contains("may or may not have applied it") && e.status == nil
            }
            #expect(server.apiRequests.count == 1)
            await client.shutdown()
        }
    }

    @Test(arguments: [500, 502, 503, 504])
    func aWriteAnswered5xxIsAnUnknownOutcomeSentOnce(_ status: Int) async throws {
        try await FaultServer.with({
            $0.isLogin ? nil : .respond(status: status, headers: [("Retry-After", "0")], body: apiErrorBody(status, "Gateway Timeout", "upstream"))
        }) { server in
            let client = try server.client(retry: Self.retrying)
            await #expect {
                _ = try await client.assignGroup(Self.tuid, to: "prfi00coldchain")
            } throws: { error in
                (error as? ThingseeError).map { if case .outcomeUnknown(_, status, _) = $0 { true } else { false } } ?? false
            }
            await #expect {
                _ = try await client.deleteGroup("prfi00coldchain")
            } throws: { error in (error as? ThingseeError)?.status == status }
            #expect(server.apiRequests.count == 2)
            await client.shutdown()
        }
    }

    @Test func aReadAnswered504OrDroppedIsRetried() async throws {
        let count = CountingScript { n, request in
            switch n {
            case 1: .respond(status: 504, body: apiErrorBody(504, "Gateway Timeout", "late"))
            case 2: .drop
            default: .respond(status: 200, body: #"{"data": []}"#)
            }
        }
        try await FaultServer.with(count.script) { server in
            let client = try server.client(retry: Self.retrying)
            #expect(try await client.groups().isEmpty)
            #expect(server.apiRequests.count == 3)
            await client.shutdown()
        }
    }

    @Test func aWriteAnswered429IsSentAgain() async throws {
        let count = CountingScript { n, _ in
            n == 1
                ? .respond(status: 429, headers: [("Retry-After", "0")], body: apiErrorBody(429, "Too Many Requests", ""))
                : .respond(status: 200, body: #"{"data": {"tuid": "\#(Self.tuid)", "installation_status": "quarantine"}}"#)
        }
        try await FaultServer.with(count.script) { server in
            let client = try server.client(retry: Self.retrying)
            #expect(try await client.setInstallationStatus(Self.tuid, .quarantine).installationStatus == "quarantine")
            #expect(server.apiRequests.count == 2)
            await client.shutdown()
        }
    }

    @Test func aWriteThatCouldNotConnectIsSentAgain() async throws {
        // A port that was just free: nothing listens there any more.
        let server = try await FaultServer.start { _ in nil }
        let url = server.baseURL
        await server.stop()
        let client = try server.client(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.001, maxDelay: 0.002), baseURL: url)
        await #expect {
            _ = try await client.setInstallationStatus(Self.tuid, .quarantine)
        } throws: { error in
            guard case .unreachable(_, let reason, 3)? = error as? ThingseeError else { return false }
            return reason.contains("refused")
        }
        await client.shutdown()
    }

    @Test func aWriteToAHostThatDoesNotResolveIsSentAgain() async throws {
        // `.invalid` never resolves (RFC 2606): the request cannot have left.
        let server = try await FaultServer.start { _ in nil }
        await server.stop()
        let client = try server.client(
            retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.001, maxDelay: 0.002),
            baseURL: "https://tsee-test-host.invalid/prod/v1")
        await #expect {
            _ = try await client.setInstallationStatus(Self.tuid, .quarantine)
        } throws: { error in
            if case .unreachable(_, _, 3)? = error as? ThingseeError { true } else { false }
        }
        await client.shutdown()
    }

    @Test func writesAnsweredWithoutABodyReturnWhatWasAskedFor() async throws {
        try await FaultServer.with({ request in
            if request.isLogin { return nil }
            switch request.route {
            case "/things/\(Self.tuid)/installations": return .respond(status: 204)
            case "/things/\(Self.tuid)/group": return .respond(status: 200)
            case "/groups/prfi00old": return .respond(status: 200, body: #"{"data": "OK"}"#)
            case "/groups/prfi00old/rename": return .respond(status: 201, body: #"{"message": "renamed"}"#)
            case "/groups": return .respond(status: 201, body: "")
            default: return .respond(status: 200, body: #"{"message": "accepted"}"#)
            }
        }) { server in
            let client = try server.client()
            let status = try await client.setInstallationStatus(Self.tuid, .retired)
            #expect(status.installationStatus == "retired" && status.tuid == Self.tuid)
            #expect(try await client.assignGroup(Self.tuid, to: "prfi00lab").groupId == "prfi00lab")
            let deletion = try await client.deleteGroup("prfi00old")
            #expect(deletion.deleted && deletion.groupId == "prfi00old")
            #expect(try await client.renameGroup("prfi00old", to: "prfi00new").groupId == "prfi00new")
            #expect(try await client.createGroup("prfi00made").groupId == "prfi00made")
            let receipt = try await client.sendCommands(Self.tuid, [Command(tsmId: 1500, transactionId: 9)])
            #expect(receipt.commands.first?["transactionId"]?.intValue == 9)
            let rename = try #require(server.apiRequests.first { $0.route == "/groups/prfi00old/rename" })
            #expect(rename.method == "POST" && rename.json?["group_id"] == "prfi00new")
            await client.shutdown()
        }
    }

    @Test func commandsMayLackATransactionIdAndParameters() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .respond(status: 200, body: #"{"data": {"commands": []}}"#) }) {
            server in
            let client = try server.client()
            _ = try await client.sendCommands(
                Self.tuid,
                [Command(tsmId: 1500, transactionId: nil), Command(tsmId: 12211, transactionId: 5, parameters: [("hallMode", 1)])])
            let sent = try #require(server.apiRequests.first?.json?.arrayValue)
            #expect(sent.count == 2)
            #expect(sent[0] == ["tsmId": 1500, "tsmEv": 30])
            #expect(sent[1] == ["tsmId": 12211, "tsmEv": 30, "transactionId": 5, "hallMode": 1])
            await client.shutdown()
        }
    }

    @Test func missingAuthenticationTokenPointsAtTheBaseURL() async throws {
        let gateway = apiErrorBody(403, "Forbidden", "Missing Authentication Token")
        try await FaultServer.with({ request in
            request.route == "/things/alerts" ? .respond(status: 403, body: gateway) : nil
        }) { server in
            let client = try server.client()
            await #expect {
                _ = try await client.alertingTUIDs()
            } throws: { error in
                guard let e = error as? ThingseeError, case .api(_, 403, _, "Missing Authentication Token") = e else {
                    return false
                }
                return e.description.contains("check the base URL")
            }
            await client.shutdown()
        }
        // Also when the login itself is answered so: a wrong base URL, not wrong credentials.
        try await FaultServer.with({ _ in .respond(status: 403, body: #"{"message": "Missing Authentication Token"}"#) }) {
            server in
            let client = try server.client()
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard let e = error as? ThingseeError, case .api("POST /auth/client-token", 403, _, _) = e else {
                    return false
                }
                return e.description.contains("check the base URL")
            }
            await client.shutdown()
        }
    }

    @Test func otherForbiddenAnswersKeepTheAPIsMessage() async throws {
        try await FaultServer.with({
            $0.isLogin ? nil : .respond(status: 403, body: #"{"message": "User is not authorized to access this resource"}"#)
        }) { server in
            let client = try server.client()
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard let e = error as? ThingseeError, case .api(_, 403, _, let message) = e else { return false }
                return message == "User is not authorized to access this resource" && !e.description.contains("base URL")
            }
            await client.shutdown()
        }
    }
}

/// A script that answers API requests by their number (1 for the first), logins by default.
final class CountingScript: Sendable {
    private let count = Mutex(0)
    private let answer: @Sendable (Int, FaultServer.Request) -> FaultServer.Reply

    init(_ answer: @escaping @Sendable (Int, FaultServer.Request) -> FaultServer.Reply) {
        self.answer = answer
    }

    var script: FaultServer.Script {
        { request in
            if request.isLogin { return nil }
            let n = self.count.withLock { $0 += 1; return $0 }
            return self.answer(n, request)
        }
    }
}
