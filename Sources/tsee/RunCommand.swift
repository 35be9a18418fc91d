import ArgumentParser
import Automation
import Foundation
import REPL
import Rules
import Store
import ThingseeAPI

/// `tsee run [RULES…]`: the scheduler.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Poll the fleet, evaluate rules, carry out their actions once each, and log them to SQLite.",
        discussion: """
            Refuses to start when a rule file has an error. One summary line per cycle goes to stderr. SIGINT or
            SIGTERM finish the cycle in flight and exit 0. With --once, the exit code is 0 for a clean cycle,
            3 when authentication failed, 4 when no device could be polled, 5 when some polls or actions failed.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "Rule files or directories of .rules files (default: ./rules).")
    var rules: [String] = []

    @Option(help: "Time between the starts of two cycles (90, 30s, 5m, 1h).")
    var interval = "60s"

    @Flag(help: "Run one cycle and exit.")
    var once = false

    @Flag(name: .customLong("dry-run"), help: "Change nothing: log would-be actions with dry_run = 1.")
    var dryRun = false

    @Option(help: "How far back the first fetch of a device reaches.")
    var lookback = "24h"

    @Option(help: "Requests in flight at once.")
    var concurrency = 8

    @Option(name: .customLong("confirm-timeout"), help: "Mark a sent command unconfirmed when its echo is this late.")
    var confirmTimeout = "15m"

    @Option(help: "How often the device list, alerts, installation status and thing info are fetched again.")
    var refresh = "10m"

    @Option(name: .customLong("db"), help: "The SQLite database (default: $XDG_STATE_HOME/tsee/tsee.db).")
    var database: String?

    func duration(_ text: String, _ flag: String) throws -> Int64 {
        guard let seconds = TimeExpression.duration(text), seconds > 0 else {
            throw ValidationError("--\(flag) takes a duration such as 90, 30s, 5m or 1h, not `\(text)`")
        }
        return seconds
    }

    mutating func run() async throws {
        let console = Console.standard()
        var options = SchedulerOptions()
        options.interval = Double(try duration(interval, "interval"))
        options.lookback = try duration(lookback, "lookback")
        options.confirmTimeout = try duration(confirmTimeout, "confirm-timeout")
        options.refresh = try duration(refresh, "refresh")
        options.dryRun = dryRun
        guard concurrency > 0 else { throw ValidationError("--concurrency takes a positive number") }
        options.concurrency = concurrency

        // Rules first: a broken rule file sends nothing, not even a login.
        let ruleSet: RuleSet
        do {
            let (loaded, diagnostics, files) = try RuleFiles.load(rules.isEmpty ? ["rules"] : rules)
            for diagnostic in diagnostics { console.err(diagnostic.description + "\n") }
            if diagnostics.hasErrors {
                console.err("tsee run: not started: fix the errors above (`tsee rules check` lists them)\n")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            ruleSet = loaded
            console.err("tsee run: \(loaded.rules.count) rules from \(files.count) files\(dryRun ? ", dry run" : "")\n")
        } catch let error as RuleFiles.ReadError {
            console.err("tsee run: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }

        let store: Store
        do {
            store = try Store(path: database ?? History.stateDirectory() + "/tsee.db")
        } catch {
            console.err("tsee run: cannot open the database: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        let connection: Connection
        do {
            // Unattended, with up to `concurrency` requests in flight: a request can meet several of a degraded
            // API's failures in a row, so it gets more attempts than an interactive command (about 25 s of backoff
            // at most) before its device is reported as failed for the cycle.
            connection = try await self.connection.open(retry: RetryPolicy(maxAttempts: 10), concurrency: concurrency)
        } catch {
            console.err("tsee run: \(error)\n")
            throw ExitCode(ExitStatus.of(error).rawValue)
        }
        let scheduler = Scheduler(
            client: connection.client, engine: Engine(ruleSet), store: store, options: options,
            report: { console.err($0 + "\n") })

        if once {
            let report = await scheduler.runCycle()
            await connection.close()
            let status: ExitStatus =
                if report.errors == 0 { .ok } else if report.authenticationFailed {
                    .authentication
                } else if report.devices > 0 && report.failedDevices == report.devices { .unavailable } else {
                    .partialFailure
                }
            if status != .ok { throw ExitCode(status.rawValue) }
            return
        }
        let stopper = Task {
            await waitForTermination()
            console.err("tsee run: stopping after the cycle in flight\n")
            await scheduler.requestStop()
        }
        await scheduler.run()
        stopper.cancel()
        await connection.close()
    }
}
