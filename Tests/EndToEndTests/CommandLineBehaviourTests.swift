import Foundation
import Testing

/// Smaller command-line behaviours: the cycles of the log, did-you-mean for an unknown command.
@Suite(.serialized) struct CommandLineBehaviourTests {
    @Test func logCyclesListsTheSchedulersCycles() async throws {
        let fleet = try await Fleet.start { $0.devices = 6 }
        defer { Task { await fleet.stop() } }
        let folder = try temporaryFolder("tsee-cycles")
        defer { try? FileManager.default.removeItem(at: folder) }
        try "rule every: when battery above -1 then log \"{tuid}\"\n".write(
            to: folder.appendingPathComponent("all.rules"), atomically: true, encoding: .utf8)
        let db = folder.appendingPathComponent("tsee.db").path
        for _ in 0..<2 {
            let run = try await fleet.tsee("run", folder.path, "--once", "--db", db)
            #expect(run.status == 0, "\(run.stderr)")
        }
        let cycles = try await fleet.tsee("log", "--cycles", "--db", db)
        #expect(cycles.status == 0, "\(cycles.stderr)")
        let rows = try #require(cycles.json as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows.compactMap { $0["id"] as? Int } == [2, 1], "newest first")
        #expect(rows.allSatisfy { $0["devices"] as? Int == 6 && $0["errors"] as? Int == 0 && $0["finished_at"] is Int })
        let mixed = try await fleet.tsee("log", "--cycles", "--rule", "every", "--db", db)
        #expect(mixed.status == 2)
    }

    @Test func anUnknownCommandGetsADidYouMean() async throws {
        let outcome = try await Tsee.run(["thngs", "-q"])
        #expect(outcome.status == 2)
        #expect(
            outcome.stderr.contains("unknown command `thngs` (did you mean `thing`?)")
                || outcome.stderr.contains("(did you mean `things`?)"), "\(outcome.stderr)")
    }
}
