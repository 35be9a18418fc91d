import Foundation
import Store

/// The action log on PostgreSQL next to SQLite: the same rows, through the same `Store` protocol.
///
/// Runs when `TSEE_BENCH_POSTGRES` names a database (`postgres://USER@HOST:PORT/DB`, password in `PGPASSWORD`):
/// the benchmark does not start a server of its own. The log is append-only, so each repetition appends rows of
/// its own (new firing keys) to the same table.
enum PostgresStoreBenchmark {
    static func measure(into report: Report, quick: Bool, workDirectory: String) async throws {
        guard let text = ProcessInfo.processInfo.environment["TSEE_BENCH_POSTGRES"], !text.isEmpty else {
            log("tsee-bench: postgres skipped (set TSEE_BENCH_POSTGRES=postgres://USER@HOST:PORT/DB and PGPASSWORD)")
            return
        }
        guard case .postgres(let url) = try StoreLocation.parse(text) else {
            log("tsee-bench: TSEE_BENCH_POSTGRES is not a postgres:// URL")
            return
        }
        let password = ProcessInfo.processInfo.environment["PGPASSWORD"]
        let count = quick ? 20_000 : 100_000
        let firings = quick ? 2_000 : 10_000
        let repetitions = quick ? 3 : 5
        let run = UUID().uuidString.prefix(8)
        var bulk: (sqlite: [Double], postgres: [Double]) = ([], [])
        var single: (sqlite: [Double], postgres: [Double]) = ([], [])
        for rep in 0..<repetitions {
            // Bulk: appendActions, one transaction.
            let rows = StoreBenchmark.intents(count).map { intent in
                var intent = intent
                intent.rule += "-\(run)-\(rep)"
                intent.firingKey = intent.rule + "|" + intent.firingKey
                return intent
            }
            let path = workDirectory + "/pg-compare-\(rep).db"
            let sqlite = try SQLiteStore(path: path)
            bulk.sqlite.append(try await rate(count) { _ = try await sqlite.appendActions(rows) })
            let postgres = try await PostgresStore.open(url, password: password)
            bulk.postgres.append(try await rate(count) { _ = try await postgres.appendActions(rows) })

            // One firing at a time: recordIntents with its rule state, one transaction each, as the scheduler
            // writes them; PostgreSQL from 8 tasks at once (the scheduler's --concurrency), SQLite from one.
            let firingRows = rows.prefix(firings).map { intent in
                var intent = intent
                intent.rule += "-single"
                intent.firingKey = "single|" + intent.firingKey
                return intent
            }
            single.sqlite.append(
                try await rate(firings) {
                    for intent in firingRows { try await sqlite.recordIntents([intent], ruleStates: [state(intent)]) }
                })
            single.postgres.append(
                try await rate(firings) {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for lane in 0..<8 {
                            group.addTask {
                                for intent in firingRows.enumerated().filter({ $0.offset % 8 == lane }).map(\.element) {
                                    try await postgres.recordIntents([intent], ruleStates: [state(intent)])
                                }
                            }
                        }
                        try await group.waitForAll()
                    }
                })
            await sqlite.close()
            await postgres.close()
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let note = "median of \(repetitions); server \(url.host):\(url.port)"
        report.add(
            Metric(
                name: "postgres: Store.appendActions rows/s", value: median(bulk.postgres), unit: "rows/s",
                note: "\(count) rows, one transaction; " + note, samples: bulk.postgres))
        report.add(
            Metric(
                name: "postgres: appendActions rate / SQLite's", value: median(zip(bulk.postgres, bulk.sqlite).map(/)) * 100,
                unit: "%", target: .atLeast(50), note: note, samples: zip(bulk.postgres, bulk.sqlite).map { $0 / $1 * 100 }))
        report.add(
            Metric(
                name: "postgres: recordIntents firings/s", value: median(single.postgres), unit: "firings/s",
                note: "\(firings) firings, one transaction each, 8 at once; " + note, samples: single.postgres))
        report.add(
            Metric(
                name: "sqlite: recordIntents firings/s", value: median(single.sqlite), unit: "firings/s",
                note: "\(firings) firings, one transaction each, one at a time", samples: single.sqlite))
        report.add(
            Metric(
                name: "postgres: recordIntents rate / SQLite's",
                value: median(zip(single.postgres, single.sqlite).map(/)) * 100, unit: "%", target: .atLeast(50),
                note: note, samples: zip(single.postgres, single.sqlite).map { $0 / $1 * 100 }))
    }

    static func state(_ intent: ActionIntent) -> RuleStateRow {
        RuleStateRow(rule: intent.rule, tuid: intent.tuid, dryRun: false, state: Data(#"{"phase":"firing"}"#.utf8))
    }

    static func rate(_ count: Int, _ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        return Double(count) / elapsedSeconds(since: start)
    }
}
