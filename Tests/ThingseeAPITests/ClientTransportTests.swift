import Foundation
import NIOCore
import Testing

@testable import ThingseeAPI

/// Faults below the API, each on a real loopback server that misbehaves on purpose.
@Suite("Transport: deadlines, body caps, redirects, TLS", .timeLimit(.minutes(2)))
struct ClientTransportTests {
    @Test func aTrickledBodyIsCutOffAtTheTotalDeadline() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .trickle(every: .milliseconds(100)) }) { server in
            let client = try server.client(timeout: 1.5)
            do {
                _ = try await client.groups()
                Issue.record("expected a timeout")
            } catch let error as ThingseeError {
                guard case .unreachable(let endpoint, let reason, let attempts) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(endpoint == "GET /groups")
                #expect(reason.contains("timed out"))
                #expect(attempts == 1)
            }
            // The head came at once and the body was flowing: only a deadline covering the body stops this.
            #expect(server.streamedBytes > 0)
            #expect(server.streamedBytes < 1_000_000)
            await client.shutdown()
        }
    }

    @Test func aTrickledAnswerToAWriteIsAnUnknownOutcomeAndNotSentAgain() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .trickle(every: .milliseconds(100)) }) { server in
            let client = try server.client(
                retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.001), timeout: 1)
            await #expect {
                _ = try await client.setInstallationStatus("TSPD04ESY93100802", .quarantine)
            } throws: { error in
                guard case .outcomeUnknown(_, nil, let reason)? = error as? ThingseeError else { return false }
                return reason.contains("within 1 s")
            }
            #expect(server.apiRequests.count == 1)
            await client.shutdown()
        }
    }

    @Test func anEndlessBodyIsRefusedPast64MiB() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .endless(limit: 256 << 20) }) { server in
            // A deadline far past what reading 64 MiB takes, even on a loaded machine: the cap must end it.
            let client = try server.client(timeout: 300)
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard case .decoding(_, "(body)", let reason)? = error as? ThingseeError else { return false }
                return reason.contains("64 MiB")
            }
            // Refused as soon as the cap was passed, not after reading the whole stream.
            #expect(server.streamedBytes < 128 << 20)
            await client.shutdown()
        }
    }

    @Test func aGzipBombIsRefusedPast64MiBInflated() async throws {
        // A smaller cap than the default keeps the server's compressing cheap; the mechanism is the same.
        try await FaultServer.with(compress: true, { $0.isLogin ? nil : .endless(limit: 256 << 20) }) { server in
            let client = try server.client(maximumBodyBytes: 8 << 20)
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard case .decoding(_, "(body)", let reason)? = error as? ThingseeError else { return false }
                return reason.contains("after decompression")
            }
            #expect(server.streamedBytes < 64 << 20)
            await client.shutdown()
        }
    }

    @Test func compressedAnswersAreInflated() async throws {
        let body = #"{"data": [{"group_id": "prfi00coldchain", "group_description": "cold"}]}"#
        try await FaultServer.with(compress: true, { $0.isLogin ? nil : .respond(status: 200, body: body) }) {
            server in
            let client = try server.client()
            #expect(try await client.groups().map(\.groupId) == ["prfi00coldchain"])
            #expect(server.apiRequests.first?.header("Accept-Encoding")?.contains("gzip") == true)
            await client.shutdown()
        }
    }

    @Test func redirectsAreNeverFollowedAndTheTokenNeverLeaves() async throws {
        try await FaultServer.with({ _ in .respond(status: 200, body: #"{"data": []}"#) }) { elsewhere in
            let target = elsewhere.baseURL
            try await FaultServer.with({ request in
                if request.isLogin { return nil }
                if request.route == "/groups" {
                    return .respond(status: 302, headers: [("Location", target + "/groups")])
                }
                return .respond(status: 301, headers: [("Location", "/prod/v1/groups")])
            }) { server in
                let client = try server.client(retry: RetryPolicy(maxAttempts: 3, baseDelay: 0.001, maxDelay: 0.001))
                await #expect {
                    _ = try await client.groups()
                } throws: { error in
                    guard let e = error as? ThingseeError, case .api(_, 302, _, let message) = e else { return false }
                    return message.contains("127.0.0.1:\(elsewhere.port)")
                        && e.description.contains("follows no redirects")
                }
                // Not even to the same origin.
                await #expect(throws: ThingseeError.self) { _ = try await client.thing("TSPD04ESY93100802") }
                #expect(server.apiRequests.count == 2)
                #expect(elsewhere.requests.isEmpty)
                await client.shutdown()
            }
        }
    }

    @Test func anUntrustedCertificateSaysSoAndIsNotRetried() async throws {
        let tls = (TLSFixtures.goodCertificate, TLSFixtures.goodKey)
        try await FaultServer.with(tls: tls, { _ in nil }) { server in
            let client = try server.client(
                retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.001),
                baseURL: "https://localhost:\(server.port)/prod/v1")
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard case .unreachable(_, let reason, 1)? = error as? ThingseeError else { return false }
                return reason.contains("certificate not trusted")
            }
            #expect(server.acceptedConnections == 1)
            #expect(server.requests.isEmpty)
            await client.shutdown()
        }
    }

    @Test func aCertificateForAnotherNameSaysSoAndIsNotRetried() async throws {
        let tls = (TLSFixtures.wrongCertificate, TLSFixtures.wrongKey)
        try await FaultServer.with(tls: tls, { _ in nil }) { server in
            let client = try server.client(
                retry: RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.001),
                baseURL: "https://localhost:\(server.port)/prod/v1", trusting: [TLSFixtures.wrongCertificate])
            await #expect {
                _ = try await client.groups()
            } throws: { error in
                guard case .unreachable(_, let reason, 1)? = error as? ThingseeError else { return false }
                return reason.contains("name mismatch")
            }
            #expect(server.acceptedConnections == 1)
            #expect(server.requests.isEmpty)
            await client.shutdown()
        }
    }

    @Test func aTrustedCertificateForTheRightNameWorks() async throws {
        let tls = (TLSFixtures.goodCertificate, TLSFixtures.goodKey)
        try await FaultServer.with(tls: tls, { $0.isLogin ? nil : .respond(status: 200, body: #"{"data": []}"#) }) {
            server in
            let client = try server.client(
                baseURL: "https://localhost:\(server.port)/prod/v1", trusting: [TLSFixtures.goodCertificate])
            #expect(try await client.groups().isEmpty)
            #expect(server.apiRequests.first?.header("Authorization") == "Bearer token-1")
            await client.shutdown()
        }
    }

    @Test func manyRequestsShareAFewKeptAliveConnections() async throws {
        try await FaultServer.with({ $0.isLogin ? nil : .respond(status: 200, body: #"{"data": []}"#) }) { server in
            let client = try server.client()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<40 { group.addTask { _ = try await client.groups() } }
                try await group.waitForAll()
            }
            #expect(server.apiRequests.count == 40)
            // The pool holds at most `concurrency` (8) connections; the login may have used one more.
            #expect(server.acceptedConnections <= 9)
            await client.shutdown()
        }
    }
}
