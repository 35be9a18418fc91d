import Foundation
import TestSupport
import Testing

/// `tsee run`, `tsee log` and `tsee rules …` as a user runs them.
@Suite("tsee run, log and rules")
struct SchedulerCommandTests {
    static let repositoryRules = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("rules").path

    @Test func runOnceActsOnceAndTheLogShowsIt() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let db = try temporaryFolder("tsee-run").path + "/tsee.db"
        let first = try await fleet.tsee("run", Self.repositoryRules, "--once", "--db", db)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("cycle 1:"))

        let log = try await fleet.tsee("log", "--db", db, "--limit", "500", "-o", "json")
        #expect(log.status == 0, "\(log.stderr)")
        let rows = try #require(log.json as? [[String: Any]])
        #expect(rows.contains { $0["rule"] as? String == "low-battery" && $0["outcome"] as? String == "done" })
        #expect(rows.allSatisfy { $0["dry_run"] as? Bool == false })
        let keys = rows.compactMap { $0["firing_key"] as? String }
        #expect(Set(keys).count == keys.count)

        let mutatingBefore = await fleet.requests.mutating
        let second = try await fleet.tsee("run", Self.repositoryRules, "--once", "--db", db)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("0 firings"))
        #expect(await fleet.requests.mutating == mutatingBefore)
        let again = try await fleet.tsee("log", "--db", db, "--limit", "500", "-o", "json")
        #expect((again.json as? [Any])?.count == rows.count)

        let quarantined = try #require(rows.first { $0["rule"] as? String == "low-battery" }?["tuid"] as? String)
        let filtered = try await fleet.tsee("log", "--db", db, "--tuid", quarantined, "-o", "csv")
        #expect(filtered.status == 0)
        #expect(filtered.stdout.contains(quarantined))
        #expect(filtered.stdout.split(separator: "\n").first?.contains("dry_run") == true)

        // Why each action happened: the firing's sub-condition values, in the JSON and with --why in the table.
        let low = try #require(rows.first { $0["rule"] as? String == "low-battery" })
        let why = try #require(low["why"] as? [String: Any])
        #expect(why["battery"] != nil, "\(why)")
        let table = try await fleet.tsee("log", "--db", db, "--rule", "low-battery", "--why", "-o", "table")
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.first?.hasSuffix("why") == true, "\(table.stdout)")
        #expect(lines.dropFirst().contains { $0.contains("battery=") }, "\(table.stdout)")
        let cycles = try await fleet.tsee("log", "--db", db, "--cycles", "--why")
        #expect(cycles.status == 2)
    }

    /// The README's claim: against a simulator with the real API's awkward variants (pages capped at 100,
    /// unusable items in pages, empty answers to writes), the repository's rules act on the same devices.
    @Test func theRealAPIsVariantsChangeNoAction() async throws {
        let plain = try await Fleet.start()
        defer { Task { await plain.stop() } }
        let awkward = try await Fleet.start {
            $0.pageCap = 100
            $0.badItemRate = 0.05
            $0.emptyWriteBodies = true
        }
        defer { Task { await awkward.stop() } }
        var done: [Set<String>] = []
        for (index, fleet) in [plain, awkward].enumerated() {
            let db = try temporaryFolder("tsee-run").path + "/tsee.db"
            let run = try await fleet.tsee("run", Self.repositoryRules, "--once", "--db", db)
            #expect(run.status == 0, "\(run.stderr)")
            // The cycle summary says how many unusable items the pages held, and only when there were some.
            let summary = run.stderr.split(separator: "\n").last { $0.contains(": cycle ") } ?? ""
            #expect(summary.contains("unusable items skipped") == (index == 1), "\(summary)")
            let log = try await fleet.tsee("log", "--db", db, "--limit", "1000", "-o", "json")
            let rows = try #require(log.json as? [[String: Any]])
            #expect(rows.allSatisfy { $0["outcome"] as? String != "failed" }, "\(rows)")
            done.append(
                Set(
                    rows.filter { $0["kind"] as? String != "log" }.map {
                        "\($0["rule"] ?? "") \($0["tuid"] ?? "") \($0["kind"] ?? "") \($0["outcome"] ?? "")"
                    }))
        }
        #expect(!done[0].isEmpty)
        #expect(done[0] == done[1])
        #expect(await awkward.server.stats.badItems > 0)
    }

    @Test func dryRunChangesNothingAtTheAPI() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let db = try temporaryFolder("tsee-run").path + "/tsee.db"
        let run = try await fleet.tsee("run", Self.repositoryRules, "--once", "--dry-run", "--db", db)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(await fleet.requests.mutating == 0)
        let log = try await fleet.tsee("log", "--db", db, "--dry-run", "-o", "json")
        let rows = try #require(log.json as? [[String: Any]])
        #expect(!rows.isEmpty)
        #expect(rows.allSatisfy { $0["dry_run"] as? Bool == true })
        let live = try await fleet.tsee("log", "--db", db, "--live", "-o", "json")
        #expect((live.json as? [Any])?.isEmpty == true)
    }

    @Test func aBrokenRuleFileStopsTheRunBeforeAnyRequest() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let folder = try temporaryFolder("tsee-run").path
        try "rule bad\n  when battery below 20\n  then move to quarantene\n".write(
            toFile: folder + "/bad.rules", atomically: true, encoding: .utf8)
        let run = try await fleet.tsee("run", folder, "--once", "--db", folder + "/tsee.db")
        #expect(run.status == 2)
        #expect(run.stderr.contains("bad.rules:3:16: error: unknown status `quarantene`"))
        #expect(run.stderr.contains("did you mean `quarantine`?"))
        #expect(await fleet.requests.total == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/tsee.db"))
    }

    @Test func sigtermFinishesTheCycleAndExitsZero() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let folder = try temporaryFolder("tsee-run").path
        let process = Process()
        process.executableURL = Tsee.binary
        process.arguments = ["run", Self.repositoryRules, "--interval", "1", "--db", folder + "/tsee.db"]
        var environment = fleet.environment
        environment["no_proxy"] = "127.0.0.1,localhost"
        environment["HOME"] = folder
        process.environment = environment
        let errors = folder + "/err"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardOutput = FileHandle.nullDevice
        let exited = ProcessExit(process)
        try process.run()
        // Wait for the first cycle line, then ask it to stop.
        for _ in 0..<100 {
            if (try? String(contentsOfFile: errors, encoding: .utf8))?.contains("cycle 1") == true { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        process.terminate()
        let status = await exited.status()
        let stderr = try String(contentsOfFile: errors, encoding: .utf8)
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("stopping after the cycle in flight"))
    }

    @Test func rulesCheckAndTestTheExamples() async throws {
        let check = try await Tsee.run(["rules", "check", Self.repositoryRules])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let test = try await Tsee.run(["rules", "test", Self.repositoryRules])
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.stdout.contains("0 failed"))
    }

    @Test func rulesCheckPointsAtTheProblem() async throws {
        let folder = try temporaryFolder("tsee-run").path
        try "rule a\n  when batery < 20\n  then send command 1600 x=1\n".write(
            toFile: folder + "/a.rules", atomically: true, encoding: .utf8)
        let check = try await Tsee.run(["rules", "check", folder + "/a.rules"])
        #expect(check.status == 1)
        #expect(check.stdout.contains("a.rules:2:8: error: unknown field `batery`"))
        #expect(check.stdout.contains("a.rules:3:21: error: command id 1600"))
    }

    @Test func rulesExplainSaysWhy() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let explain = try await fleet.tsee(
            "-c", "rules load \(Self.repositoryRules); rules explain low-battery \(fleet.sensor)", "-o", "table")
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("battery"))
        #expect(explain.stdout.lowercased().contains("state"))
    }
}
