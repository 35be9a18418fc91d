import Foundation
import TestSupport
import Testing

/// A `tsee run` in the background, its stderr in a file.
final class BackgroundRun: @unchecked Sendable {
    // Only the test's task touches these; `Process` itself is thread-safe for terminate/wait.
    let process = Process()
    let exited: ProcessExit
    let errors: String

    init(_ arguments: [String], environment: [String: String], folder: String) throws {
        errors = folder + "/err-\(UUID().uuidString)"
        exited = ProcessExit(process)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        process.executableURL = Tsee.binary
        process.arguments = arguments
        var env = environment
        env["no_proxy"] = "127.0.0.1,localhost"
        env["HOME"] = folder
        env["NO_COLOR"] = "1"
        process.environment = env
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

    /// Waits (polling its output, bounded) until stderr contains `text`.
    func waitFor(_ text: String, attempts: Int = 600) async throws -> Bool {
        for _ in 0..<attempts {
            if stderr.contains(text) { return true }
            if !process.isRunning { return stderr.contains(text) }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func exit() async -> Int32 {
        await exited.status()
    }
}

@Suite("One scheduler per database")
struct RunLockTests {
    func folder() throws -> String { try temporaryFolder("tsee-lock").path }

    @Test func aSecondRunOnTheSameDatabaseWaitsThenRefusesNamingTheFirst() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let dir = try folder()
        let db = dir + "/tsee.db"
        let first = try BackgroundRun(
            ["run", SchedulerCommandTests.repositoryRules, "--interval", "1", "--db", db],
            environment: fleet.environment, folder: dir)
        #expect(try await first.waitFor("cycle 1"), "\(first.stderr)")
        let mutating = await fleet.requests.mutating

        let second = try await fleet.tsee(
            "run", SchedulerCommandTests.repositoryRules, "--once", "--db", db, "--lock-wait", "1s")
        #expect(second.status == 2, "\(second.stderr)")
        #expect(second.stderr.contains("in use by process \(first.process.processIdentifier)"), "\(second.stderr)")
        #expect(await fleet.requests.mutating == mutating || first.stderr.contains("cycle 2"))

        // A reader needs no lock.
        let log = try await fleet.tsee("log", "--db", db, "-o", "json")
        #expect(log.status == 0, "\(log.stderr)")
        first.process.terminate()
        #expect(await first.exit() == 0)
    }

    @Test func aRestartOverlapWaitsForTheOldProcessAndDoublesNothing() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let dir = try folder()
        let db = dir + "/tsee.db"
        let old = try BackgroundRun(
            ["run", SchedulerCommandTests.repositoryRules, "--interval", "1", "--db", db],
            environment: fleet.environment, folder: dir)
        #expect(try await old.waitFor("cycle 1"), "\(old.stderr)")
        // The new process starts while the old one still runs; it waits for the lock instead of reconciling the
        // old one's actions in flight.
        let new = try BackgroundRun(
            ["run", SchedulerCommandTests.repositoryRules, "--interval", "1", "--db", db, "--lock-wait", "60s"],
            environment: fleet.environment, folder: dir)
        try await Task.sleep(for: .milliseconds(300))
        #expect(!new.stderr.contains("cycle 1"))
        old.process.terminate()
        #expect(await old.exit() == 0)
        #expect(try await new.waitFor("cycle 1"), "\(new.stderr)")
        new.process.terminate()
        #expect(await new.exit() == 0)

        let log = try await fleet.tsee("log", "--db", db, "--limit", "10000", "-o", "json")
        let rows = try #require(log.json as? [[String: Any]])
        let keys = rows.compactMap { $0["firing_key"] as? String }
        #expect(Set(keys).count == keys.count)
        let called = rows.filter { ["move", "send", "assign"].contains($0["action"] as? String ?? "") && $0["outcome"] as? String == "done" }
        // Every write the simulator applied is one logged action, and no logged action was applied twice.
        #expect(await fleet.server.stats.mutatingApplied == called.count)
    }

    @Test func aDatabaseOfAnotherDeploymentIsRefused() async throws {
        let one = try await Fleet.start()
        let two = try await Fleet.start()
        defer {
            Task {
                await one.stop()
                await two.stop()
            }
        }
        let db = try folder() + "/tsee.db"
        let first = try await one.tsee("run", SchedulerCommandTests.repositoryRules, "--once", "--db", db)
        #expect(first.status == 0, "\(first.stderr)")
        let other = try await two.tsee("run", SchedulerCommandTests.repositoryRules, "--once", "--db", db)
        #expect(other.status == 2)
        #expect(other.stderr.contains(one.url.absoluteString), "\(other.stderr)")
        #expect(other.stderr.contains(two.url.absoluteString), "\(other.stderr)")
        #expect(await two.requests.mutating == 0)
    }
}

@Suite("Nothing waits for ever")
struct DeadlineTests {
    @Test func aTricklingServerIsCutOffAtTheDeadline() async throws {
        // One byte a second, from a `tsee sim` process of its own (its trickling writers must not share this test
        // process's event loops with the other simulators): a 1 s `--timeout` ends the command with "API
        // unreachable" (exit 4) long before the answer could arrive.
        let dir = try temporaryFolder("tsee-trickle")
        let out = dir.appendingPathComponent("sim.out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let sim = Process()
        sim.executableURL = Tsee.binary
        sim.arguments = ["sim", "--port", "0", "--devices", "12", "--slow-body", "--slow-body-interval", "1000"]
        sim.standardOutput = try FileHandle(forWritingTo: out)
        sim.standardError = FileHandle.nullDevice
        try sim.run()
        defer { sim.terminate() }
        var url: String?
        for _ in 0..<300 where url == nil {
            try await Task.sleep(for: .milliseconds(100))
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            url = text.split(separator: "\n").first { $0.hasPrefix("export THINGSEE_BASE_URL=") }
                .map { String($0.dropFirst("export THINGSEE_BASE_URL=".count)) }
        }
        let base = try #require(url)
        let started = ContinuousClock.now
        let outcome = try await Tsee.run(
            ["thing", "TSPD04LLY59881187", "--timeout", "1s"],
            environment: ["THINGSEE_BASE_URL": base, "THINGSEE_CLIENT_ID": "sim", "THINGSEE_CLIENT_SECRET": "sim-secret"])
        #expect(outcome.status == 4, "\(outcome.stderr)")
        #expect(outcome.stderr.contains("no complete answer within 1 s"), "\(outcome.stderr)")
        // Five attempts of one second each plus backoff; the answer itself would take minutes.
        #expect(ContinuousClock.now - started < .seconds(120))
    }

    @Test func runOnceNeverHangsOnMalformedAnswers() async throws {
        // A regression test for a deadlock of the former transport: task groups cancelled while answers were
        // being decoded hung `run --once` at 0 % CPU in 2 of 8 runs. Eight runs, each bounded.
        let fleet = try await Fleet.start { $0.malformedRate = 0.3 }
        defer { Task { await fleet.stop() } }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-hang-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for run in 0..<8 {
            let outcome = try await fleet.tsee(
                "run", SchedulerCommandTests.repositoryRules, "--once", "--dry-run", "--db", dir + "/\(run).db",
                "--timeout", "10s")
            #expect([0, 4, 5].contains(outcome.status), "run \(run): \(outcome.stderr.suffix(400))")
            #expect(outcome.stderr.contains("cycle 1"), "run \(run): \(outcome.stderr.suffix(400))")
        }
    }
}

@Suite("Exit codes a script can trust")
struct ExitCodeTests {
    @Test func exitTakesOnlyCodesAProcessCanReturn() async throws {
        let big = try await Tsee.run(["-q", "-c", "exit 256"])
        #expect(big.status == 2, "\(big.stderr)")
        #expect(big.stderr.contains("0 to 255"))
        #expect(try await Tsee.run(["-q", "-c", "exit 7"]).status == 7)
    }

    @Test func aDatabaseThatCannotBeOpenedIsNotAnUnreachableAPI() async throws {
        // A database under a regular file cannot be created: a local problem (exit 2), not "API unreachable" (4).
        let log = try await Tsee.run(["log", "--db", "/etc/hostname/tsee.db"])
        #expect(log.status == 2, "\(log.stderr)")
    }
}
