import Foundation
import Simulator
import Testing
import ThingseeAPI

@testable import REPL

/// The smaller behaviours of a session: rules eval's scope, completion hygiene, quiet Ctrl-C, no secret from `set`.
@Suite(.serialized) struct SessionBehaviourTests {
    func rulesFile(_ text: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("all.rules").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func evaluatedTUIDs(_ session: Session, _ line: String) async throws -> Set<String> {
        session.output.clear()
        let status = await session.run(line)
        #expect(status == .ok, "\(session.output.err)")
        return Set(try #require(try session.json?.arrayValue).compactMap { $0["tuid"]?.stringValue })
    }

    @Test func rulesEvalCoversEveryGroupGivenAndBareEvalTheRulesScope() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        let coldChain = Set(try await session.client.groupThings("prfi00coldchain").tuids)
        let office = Set(try await session.client.groupThings("prfi00officehq").tuids)
        session.context.rulePaths = [try rulesFile("rule every: when battery above -1 then log \"{tuid}\"\n")]
        let both = try await evaluatedTUIDs(session, "rules eval --group prfi00coldchain --group prfi00officehq")
        #expect(both == coldChain.union(office))
        let all = try await evaluatedTUIDs(session, "rules eval")
        #expect(all == Set(try await session.allDevices()))

        session.context.rulePaths = [
            try rulesFile("rule cold: in group prfi00coldchain when battery above -1 then log \"{tuid}\"\n")
        ]
        #expect(try await evaluatedTUIDs(session, "rules eval") == coldChain)
    }

    @Test func aTUIDAnswered404NeverEntersCompletion() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        #expect(await session.run("thing TSPD04ZZZ00000000") == .refused)
        #expect(!session.context.cache.tuids.contains("TSPD04ZZZ00000000"))
        let real = try #require(session.server.deviceTUIDs().first)
        #expect(await session.run("thing \(real)") == .ok)
        #expect(session.context.cache.tuids.contains(real))
    }

    @Test func cancellingACommandSaysNothing() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        let task = Task { await session.run("watch -n 1000 groups") }
        task.cancel()
        #expect(await task.value == .interrupted)
        #expect(!session.output.err.contains("cancelled"), "\(session.output.err)")
    }

    @Test func setNeverShowsASecretInAnyFormat() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        for line in ["set MY_TOKEN abc123", "set AUTH 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x'", "set plain hello"] {
            #expect(await session.run(line) == .ok)
        }
        _ = await session.run("set")
        let shown = session.output.out
        #expect(!shown.contains("abc123") && !shown.contains("eyJ") && !shown.contains("Bearer"))
        #expect(shown.contains("hello"))
    }
}
