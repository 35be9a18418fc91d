import Foundation
import Testing
import TestSupport

/// `tsee run` processes sharing a fleet on one PostgreSQL database, as an operator runs them: the built binary,
/// the password in PGPASSWORD, `tsee status` and `tsee log` to look.
@Suite("tsee run on PostgreSQL")
struct SharedDatabaseTests {
    func folder() throws -> String { try temporaryFolder("tsee-pg-e2e").path }

    /// `tsee status -o json`: live processes → devices held.
    func status(_ fleet: Fleet, _ db: String, _ env: [String: String]) async throws -> [String: Int] {
        let result = try await fleet.tsee("status", "--db", db, "-o", "json", environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        let rows = (result.json as? [[String: Any]]) ?? []
        var held: [String: Int] = [:]
        for row in rows where row["live"] as? Bool == true {
            held[row["owner"] as? String ?? "?"] = row["devices"] as? Int ?? 0
        }
        return held
    }

    @Test func threeProcessesShareTheFleetAndTakeOverFromOneKilledWithoutDoublingAnAction() async throws {
        let (server, database) = try await PostgresServer.sharedDatabase()
        let db = server.url(database: database)
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = fleet.environment.merging(["PGPASSWORD": server.password]) { $1 }
        var runs: [BackgroundRun] = []
        for _ in 0..<3 {
            runs.append(
                try BackgroundRun(
                    ["run", SchedulerCommandTests.repositoryRules, "--interval", "1", "--lease", "3", "--db", db],
                    environment: env, folder: dir))
        }
        // Whatever happens below, no process outlives the test.
        defer { for run in runs where run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) } }
        for run in runs { #expect(try await run.waitFor("cycle 2"), "\(run.stderr)") }
        // Settled within a few cycles (bounded; cycles are slower on a loaded machine): each holds its share of the
        // devices in the rules' scope, and together all of them.
        var held: [String: Int] = [:]
        var total = 0
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(30) {
            held = try await status(fleet, db, env)
            total = held.values.reduce(0, +)
            if held.count == 3, total > 0, held.values.allSatisfy({ $0 <= (total + 2) / 3 }) { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(held.count == 3, "\(held)")
        #expect(total > 0)
        #expect(
            held.values.allSatisfy { $0 <= (total + 2) / 3 },
            "\(held) after \(ContinuousClock.now - started)\n\(runs.map(\.stderr).joined(separator: "\n---\n"))")

        // kill -9: no clean stop, no release. The other two take its devices over once its leases expire.
        kill(runs[2].process.processIdentifier, SIGKILL)
        _ = await runs[2].exit()
        let killed = ContinuousClock.now
        var takenOver = false
        while ContinuousClock.now - killed < .seconds(12) {
            held = try await status(fleet, db, env)
            if held.count == 2, held.values.reduce(0, +) == total {
                takenOver = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        // Two lease lengths are 6 s; the bound allows for slow cycles on a loaded machine (the manual-clock test in
        // AutomationTests holds the exact bound).
        #expect(takenOver, "not taken over: \(held)\n\(runs.prefix(2).map(\.stderr).joined(separator: "\n---\n"))")
        let elapsed = ContinuousClock.now - killed
        for run in runs.prefix(2) { #expect(try await run.waitFor("device leases changed"), "\(run.stderr)") }
        for run in runs.prefix(2) { run.process.terminate() }
        for run in runs.prefix(2) { #expect(await run.exit() == 0, "\(run.stderr)") }
        // A clean stop gave the leases back.
        #expect(try await status(fleet, db, env).isEmpty)

        let log = try await fleet.tsee("log", "--db", db, "--limit", "10000", "-o", "json", environment: env)
        #expect(log.status == 0, "\(log.stderr)")
        let rows = try #require(log.json as? [[String: Any]])
        let keys = rows.compactMap { $0["firing_key"] as? String }
        #expect(Set(keys).count == keys.count)
        let called = rows.filter {
            ["move", "send", "assign"].contains($0["action"] as? String ?? "") && $0["outcome"] as? String == "done"
        }
        #expect(!called.isEmpty)
        // Every write the simulator applied is one logged action, and no logged action was applied twice.
        #expect(await fleet.server.stats.mutatingApplied == called.count)
        for run in runs { #expect(!run.stderr.contains(server.password)) }
        print("tsee run on PostgreSQL: \(total) devices; after kill -9, taken over in \(elapsed)")
    }

    @Test func aWrongPasswordIsRefusedAtStartWithTheServersMessage() async throws {
        let (server, database) = try await PostgresServer.sharedDatabase()
        let db = server.url(database: database)
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let secret = "not-the-password-\(UUID().uuidString.prefix(6))"
        let result = try await fleet.tsee(
            "run", SchedulerCommandTests.repositoryRules, "--once", "--db", db, environment: ["PGPASSWORD": secret])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("password authentication failed"), "\(result.stderr)")
        #expect(!result.stderr.contains(secret))
        #expect(await fleet.requests.mutating == 0)
        let inURL = try await fleet.tsee(
            "log", "--db", "postgres://tsee:\(secret)@127.0.0.1:\(server.port)/x")
        #expect(inURL.status == 2, "\(inURL.stderr)")
        #expect(inURL.stderr.contains("PGPASSWORD"), "\(inURL.stderr)")
        #expect(!inURL.stderr.contains(secret))
    }
}
