import Foundation
import Store

/// The action log: `Store.appendActions` next to the `sqlite3` shell importing the same rows into the same schema.
enum StoreBenchmark {
    static let createdAt: Int64 = 1_700_000_500

    /// A realistic mix: mostly `log` actions (done at once), some `send`s still open as intents, some moves.
    static func intents(_ count: Int) -> [ActionIntent] {
        (0..<count).map { i in
            let tuid = "TSPD04" + String(format: "ACT%08d", i % 5_000)
            let time = 1_700_000_000 + Int64(i)
            switch i % 10 {
            case 0, 1:
                return ActionIntent(
                    time: time, rule: "gateway-lost", tuid: tuid, sequence: Int64(i), actionIndex: 0, kind: .send,
                    parameters: #"{"tsmId":1500,"measurementInterval":60,"reportInterval":300}"#, dryRun: false,
                    transactionID: Int64(100_000 + i))
            case 2:
                return ActionIntent(
                    time: time, rule: "low-battery", tuid: tuid, sequence: Int64(i), actionIndex: 0, kind: .move,
                    parameters: #"{"status":"quarantine"}"#, dryRun: false, outcome: .skipped,
                    error: "already quarantine")
            default:
                return ActionIntent(
                    time: time, rule: "cold-room-warm", tuid: tuid, sequence: Int64(i), actionIndex: 1, kind: .log,
                    parameters: "{\"text\":\"\(tuid) at 8.4 °C\"}", dryRun: false)
            }
        }
    }

    static func outcome(_ intent: ActionIntent) -> String {
        if let outcome = intent.outcome { return outcome.rawValue }
        if intent.dryRun { return "would" }
        return intent.kind == .log ? "done" : "intent"
    }

    /// The same rows as the Store writes them, in CSV for the shell's `.import`.
    static func csv(_ intents: [ActionIntent]) -> String {
        func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        var text = ""
        text.reserveCapacity(intents.count * 160)
        for intent in intents {
            let outcome = outcome(intent)
            let fields: [String] = [
                String(intent.time), quote(intent.rule), quote(intent.tuid), intent.kind.rawValue,
                quote(intent.parameters), intent.dryRun ? "1" : "0", outcome, intent.error.map(quote) ?? "",
                intent.transactionID.map(String.init) ?? "", quote(intent.firingKey), String(createdAt),
                outcome == "intent" ? "" : String(createdAt),
            ]
            text += fields.joined(separator: ",") + "\n"
        }
        return text
    }

    static let columns =
        "time, rule, tuid, action, parameters, dry_run, outcome, error, transaction_id, firing_key, created_at, completed_at"

    /// The shell script: the Store's pragmas, then `.import` into a staging table and one INSERT … SELECT.
    static func shellScript(csvPath: String) -> String {
        """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        PRAGMA foreign_keys = ON;
        CREATE TEMP TABLE staging (time INTEGER, rule TEXT, tuid TEXT, action TEXT, parameters TEXT,
            dry_run INTEGER, outcome TEXT, error TEXT, transaction_id INTEGER, firing_key TEXT,
            created_at INTEGER, completed_at INTEGER);
        .import --csv \(csvPath) staging
        BEGIN;
        INSERT INTO actions (\(columns))
            SELECT time, rule, tuid, action, parameters, dry_run, outcome, nullif(error, ''),
                nullif(transaction_id, ''), firing_key, created_at, nullif(completed_at, '')
            FROM staging WHERE true
            ON CONFLICT (firing_key) DO NOTHING;
        COMMIT;

        """
    }

    static func measure(into report: Report, quick: Bool, workDirectory: String) async throws {
        let count = quick ? 20_000 : 100_000
        let intents = intents(count)
        let csvPath = workDirectory + "/actions.csv"
        try csv(intents).write(toFile: csvPath, atomically: true, encoding: .utf8)
        let scriptPath = workDirectory + "/import.sql"
        try shellScript(csvPath: csvPath).write(toFile: scriptPath, atomically: true, encoding: .utf8)

        let repetitions = quick ? 3 : 5
        var storeRates: [Double] = []
        var shellRates: [Double] = []
        var ratios: [Double] = []
        for rep in 0..<repetitions {
            // Store: a fresh database, schema created outside the timed region.
            let storePath = workDirectory + "/store-\(rep).db"
            let store = try SQLiteStore(path: storePath, now: { createdAt })
            let start = ContinuousClock.now
            let inserted = try await store.appendActions(intents)
            let storeTime = elapsedSeconds(since: start)
            precondition(inserted == count, "appendActions inserted \(inserted) of \(count)")
            await store.close()

            // Shell: a fresh database with the same schema (made by the Store), then the import.
            let shellPath = workDirectory + "/shell-\(rep).db"
            let empty = try SQLiteStore(path: shellPath)
            await empty.close()
            let run = try Subprocess.run(["/usr/bin/sqlite3", "-bail", shellPath], stdinFile: scriptPath)
            precondition(run.status == 0, "sqlite3 failed: \(run.stderr)")
            let check = try Subprocess.run(["/usr/bin/sqlite3", shellPath, "SELECT count(*) FROM actions"])
            precondition(
                check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == String(count),
                "sqlite3 imported \(check.stdout) rows, expected \(count)")
            storeRates.append(Double(count) / storeTime)
            shellRates.append(Double(count) / run.wallSeconds)
            ratios.append(run.wallSeconds / storeTime)
            for path in [storePath, shellPath] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
        }
        try? FileManager.default.removeItem(atPath: csvPath)
        try? FileManager.default.removeItem(atPath: scriptPath)
        let note = "\(count) rows, one transaction, median of \(repetitions)"
        report.add(
            Metric(name: "sqlite: Store.appendActions rows/s", value: median(storeRates), unit: "rows/s", note: note,
                samples: storeRates))
        report.add(
            Metric(name: "sqlite: sqlite3 shell .import rows/s", value: median(shellRates), unit: "rows/s",
                note: note + "; whole sqlite3 process", samples: shellRates))
        report.add(
            Metric(
                name: "sqlite: Store rate / shell rate", value: median(ratios) * 100, unit: "%",
                target: .atLeast(50), note: "median of the per-repetition ratios", samples: ratios.map { $0 * 100 }))
    }
}
