import Foundation
import Store
import Testing

@Suite struct StoreTests {
    // MARK: Opening and migrations

    @Test func openCreatesSchemaAndReopeningIsIdempotent() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("nested/tsee.db")
        do {
            let store = try SQLiteStore(path: path, now: fixedClock)
            try await store.recordIntents([intent()])
            await store.close()
        }
        #expect(fileMode(path) == 0o600)
        for _ in 0..<2 {
            let store = try SQLiteStore(path: path, now: fixedClock)
            #expect(try await store.actions().count == 1)
            #expect(try await store.withDatabase { try $0.userVersion() } == SQLiteStore.schemaVersion)
            await store.close()
        }
        let db = try Database(path: path)
        #expect(try db.userVersion() == SQLiteStore.schemaVersion)
        #expect(try db.journalMode() == "wal")
    }

    @Test func newerSchemaIsRefusedWithAClearError() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path()
        _ = try SQLiteStore(path: path)
        try Database(path: path).setUserVersion(SQLiteStore.schemaVersion + 5)

        let error = #expect(throws: StoreError.self) { try SQLiteStore(path: path) }
        #expect(error?.kind == .schemaTooNew(found: SQLiteStore.schemaVersion + 5, supported: SQLiteStore.schemaVersion))
        #expect(error?.description.contains("newer tsee") == true)
        #expect(error?.description.contains(path) == true)
    }

    // MARK: Recording intents

    @Test(arguments: Backend.allCases) func intentsStartWithTheRightOutcome(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        let ids = try await store.recordIntents([
            intent(index: 0, kind: .move),
            intent(index: 1, kind: .send, parameters: #"{"tsmId":1500,"reportInterval":60}"#, transactionID: 42),
            intent(index: 2, kind: .log, parameters: #"{"text":"low"}"#),
            intent(index: 0, kind: .move, dryRun: true),
            ActionIntent(
                time: 1_000, rule: "r", tuid: "T", sequence: 1, actionIndex: 0, kind: .move, dryRun: false,
                outcome: .skipped, error: "already in quarantine"),
        ])
        #expect(ids.count == 5)
        #expect(Set(ids).count == 5)
        let records = try await store.actions(filter: ActionFilter(oldestFirst: true))
        #expect(records.map(\.outcome) == [.intent, .intent, .done, .would, .skipped])
        #expect(records.map(\.completedAt) == [nil, nil, 1_700_000_000, 1_700_000_000, 1_700_000_000])
        #expect(records[1].transactionID == 42)
        #expect(records[1].firingKey == "low-battery|TSPD04ESY93100802|1|1|0")
        #expect(records[3].firingKey == "low-battery|TSPD04ESY93100802|1|0|1")
        #expect(records[4].error == "already in quarantine")
        #expect(records.allSatisfy { $0.createdAt == 1_700_000_000 && $0.confirmState == nil })
    }

    @Test(arguments: Backend.allCases) func intentsAndStateAreWrittenAtomically(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let device = DeviceRow(tuid: "TSPD04ESY93100802", dryRun: false, cursorTs: 500)
        let good = RuleStateRow(rule: "low-battery", tuid: "TSPD04ESY93100802", dryRun: false, state: Data("{}".utf8))
        // The second rule state breaks a CHECK constraint after the intents and the first state were written.
        let bad = RuleStateRow(rule: "", tuid: "TSPD04ESY93100802", dryRun: false, state: Data("{}".utf8))

        let error = await #expect(throws: StoreError.self) {
            try await store.recordIntents(
                [intent(index: 0), intent(index: 1)], ruleStates: [good, bad], devices: [device])
        }
        #expect(error?.code == StoreError.Code.constraintCheck)
        #expect(try await db.count("actions") == 0)
        #expect(try await db.count("rule_state") == 0)
        #expect(try await db.count("devices") == 0)

        // A firing refused halfway (its second intent is not valid) leaves neither its first intent nor its state.
        let refused = await #expect(throws: StoreError.self) {
            try await store.recordIntents(
                [intent(index: 0), intent("", index: 1)], ruleStates: [good], devices: [device])
        }
        #expect(refused?.isConstraintViolation == true)
        #expect(try await db.count("actions") == 0)
        #expect(try await db.count("rule_state") == 0)

        try await store.recordIntents([intent(index: 0), intent(index: 1)], ruleStates: [good], devices: [device])
        #expect(try await db.count("actions") == 2)
        #expect(try await store.ruleStates(dryRun: false).map(\.rule) == ["low-battery"])
        #expect(try await store.devices(dryRun: false).map(\.cursorTs) == [500])
        await store.close()
    }

    @Test(arguments: Backend.allCases) func theDatabaseRefusesADuplicateFiringKey(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        try await store.recordIntents([intent(sequence: 3)])
        let key = intent(sequence: 3).firingKey
        // Past the store's ON CONFLICT: the UNIQUE constraint itself refuses a second row for one firing.
        let error = await #expect(throws: StoreError.self) {
            try await db.execute(
                """
                INSERT INTO actions (time, rule, tuid, action, parameters, dry_run, outcome, firing_key, created_at)
                SELECT time, rule, tuid, action, parameters, dry_run, 'intent', firing_key, created_at
                FROM actions WHERE firing_key = '\(key)'
                """)
        }
        #expect(error?.code == StoreError.Code.constraintUnique)
        #expect(try await db.count("actions") == 1)
        await store.close()
    }

    @Test(arguments: Backend.allCases) func aFiringIsNeverLoggedTwice(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let first = try await store.recordIntents([intent(sequence: 7, index: 0), intent(sequence: 7, index: 1)])
        try await store.complete(id: first[0], outcome: .done, httpStatus: 200)
        let again = try await store.recordIntents([intent(sequence: 7, index: 0), intent(sequence: 7, index: 1)])
        #expect(again == first)
        #expect(try await store.actions().count == 2)
        // The replay did not reopen the completed action.
        #expect(try await store.action(id: first[0])?.outcome == .done)
        #expect(try await store.appendActions([intent(sequence: 7, index: 0), intent(sequence: 8)]) == 1)
    }

    // MARK: Completing and confirming

    @Test(arguments: Backend.allCases) func sendIsCompletedThenConfirmed(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        let ids = try await store.recordIntents([
            intent(index: 0, kind: .send, parameters: #"{"tsmId":1500,"reportInterval":60}"#),
            intent(index: 1, kind: .move),
        ])
        let send = ids[0]
        let move = ids[1]

        try await store.complete(id: send, outcome: .done, httpStatus: 200, transactionID: 123_456)
        try await store.complete(id: move, outcome: .failed, httpStatus: 404, error: "Not Found")
        #expect(try await store.pendingConfirmations().map(\.id) == [send])
        let sent = try #require(try await store.action(id: send))
        #expect(sent.confirmState == .pending)
        #expect(sent.transactionID == 123_456)
        #expect(sent.httpStatus == 200)
        #expect(sent.completedAt == 1_700_000_000)
        let moved = try #require(try await store.action(id: move))
        #expect(moved.outcome == .failed)
        #expect(moved.error == "Not Found")
        #expect(moved.confirmState == nil)

        #expect(try await store.markUnconfirmed(id: send))
        #expect(try await store.pendingConfirmations().isEmpty)
        #expect(try await store.action(id: send)?.confirmState == .unconfirmed)
        #expect(try await store.markUnconfirmed(id: send) == false)

        // A late echo still confirms it; a duplicated echo changes nothing.
        #expect(try await store.confirm(id: send, at: 2_000, values: #"{"reportInterval":60}"#))
        #expect(try await store.confirm(id: send, at: 2_500, values: "{}") == false)
        let confirmed = try #require(try await store.action(id: send))
        #expect(confirmed.confirmState == .confirmed)
        #expect(confirmed.confirmedAt == 2_000)
        #expect(confirmed.confirmedValues == #"{"reportInterval":60}"#)
        #expect(try await store.markUnconfirmed(id: send) == false)
    }

    @Test(arguments: Backend.allCases) func theLogIsAppendOnly(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let ids = try await store.recordIntents([intent(index: 0, kind: .move), intent(index: 1, kind: .log)])

        try await store.complete(id: ids[0], outcome: .done)
        let twice = await #expect(throws: StoreError.self) { try await store.complete(id: ids[0], outcome: .failed) }
        #expect(twice?.kind == .invalidTransition(id: ids[0]))
        let logged = await #expect(throws: StoreError.self) { try await store.complete(id: ids[1], outcome: .done) }
        #expect(logged?.kind == .invalidTransition(id: ids[1]))
        let missing = await #expect(throws: StoreError.self) { try await store.complete(id: 999, outcome: .done) }
        #expect(missing?.kind == .noSuchRow(table: "actions", id: 999))
        let notSend = await #expect(throws: StoreError.self) { try await store.confirm(id: ids[0], at: 1, values: nil) }
        #expect(notSend?.kind == .invalidTransition(id: ids[0]))

        // Even by hand, rows cannot be deleted nor their facts rewritten: the database refuses.
        let delete = await #expect(throws: StoreError.self) { try await db.execute("DELETE FROM actions") }
        #expect(delete?.code == StoreError.Code.constraintTrigger)
        #expect(delete?.message == "the action log is append-only")
        for rewrite in [
            "UPDATE actions SET rule = 'other'", "UPDATE actions SET firing_key = firing_key || 'x'",
            "UPDATE actions SET parameters = '{}'", "UPDATE actions SET time = time + 1",
        ] {
            let error = await #expect(throws: StoreError.self, "\(rewrite)") { try await db.execute(rewrite) }
            #expect(error?.code == StoreError.Code.constraintTrigger)
        }
        if backend == .postgres {
            let truncate = await #expect(throws: StoreError.self) { try await db.execute("TRUNCATE actions") }
            #expect(truncate?.code == StoreError.Code.constraintTrigger)
        }
        #expect(try await db.count("actions") == 2)
        #expect(try await store.action(id: ids[0])?.rule == "low-battery")
        await store.close()
    }

    @Test(arguments: Backend.allCases) func openIntentsSurviveACrash(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        var ids: [Int64] = []
        do {
            let store = try await db.open()
            ids = try await store.recordIntents([
                intent(index: 0, kind: .move),
                intent(index: 1, kind: .send, transactionID: 77),
                intent(index: 2, kind: .assign),
                intent(index: 0, kind: .send, dryRun: true),
            ])
            try await store.complete(id: ids[0], outcome: .done, httpStatus: 200)
            // The process dies here: the send and the assign were written as intents and never completed.
        }
        let store = try await db.open()
        let open = try await store.openIntents()
        #expect(open.map(\.id) == [ids[1], ids[2]])
        #expect(open.map(\.kind) == [.send, .assign])
        #expect(open[0].transactionID == 77)

        try await store.complete(id: ids[1], outcome: .done, httpStatus: 200)
        try await store.complete(id: ids[2], outcome: .failed, error: "not in command history after restart")
        #expect(try await store.openIntents().isEmpty)
        #expect(try await store.pendingConfirmations().map(\.id) == [ids[1]])
    }

    // MARK: Reading the log

    @Test(arguments: Backend.allCases) func actionFilters(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let a = "TSPD04ESY93100802"
        let b = "TSGW01ABC12345678"
        let ids = try await store.recordIntents([
            intent("low-battery", tuid: a, sequence: 1, time: 100),
            intent("low-battery", tuid: b, sequence: 1, time: 200),
            intent("gateway-lost", tuid: b, sequence: 1, kind: .send, time: 300),
            intent("gateway-lost", tuid: b, sequence: 1, kind: .send, dryRun: true, time: 300),
            intent("low-battery", tuid: a, sequence: 2, dryRun: true, time: 400),
        ])
        try await store.complete(id: ids[2], outcome: .done)

        #expect(try await store.actions().map(\.id) == ids.reversed())
        #expect(try await store.actions(filter: ActionFilter(oldestFirst: true)).map(\.id) == ids)
        #expect(
            try await store.actions(filter: ActionFilter(rule: "low-battery")).map(\.id) == [ids[4], ids[1], ids[0]])
        #expect(try await store.actions(filter: ActionFilter(tuid: b)).map(\.id) == [ids[3], ids[2], ids[1]])
        #expect(try await store.actions(filter: ActionFilter(since: 300)).map(\.id) == [ids[4], ids[3], ids[2]])
        #expect(try await store.actions(filter: ActionFilter(limit: 2)).map(\.id) == [ids[4], ids[3]])
        #expect(try await store.actions(filter: ActionFilter(dryRun: true)).map(\.id) == [ids[4], ids[3]])
        #expect(try await store.actions(filter: ActionFilter(dryRun: false)).map(\.id) == [ids[2], ids[1], ids[0]])
        #expect(try await store.actions(filter: ActionFilter(unconfirmedOnly: true)).map(\.id) == [ids[2]])
        #expect(
            try await store.actions(filter: ActionFilter(rule: "low-battery", tuid: a, dryRun: false)).map(\.id)
                == [ids[0]])
    }

    @Test(arguments: Backend.allCases) func actionRecordEncodesSnakeCaseWithBooleanDryRun(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        try await store.recordIntents([
            intent(kind: .send, parameters: #"{"tsmId":1500,"reportInterval":60}"#, dryRun: true, transactionID: 9)
        ])
        let record = try #require(try await store.actions().first)
        let data = try JSONEncoder().encode(record)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])

        #expect(
            Set(object.keys) == [
                "id", "time", "rule", "tuid", "action", "parameters", "dry_run", "outcome", "http_status", "error",
                "transaction_id", "confirmed_at", "confirmed_values", "confirm_state", "firing_key", "created_at",
                "completed_at", "why", "severity",
            ])
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.contains(#""dry_run":true"#))
        #expect(text.contains(#""http_status":null"#))
        #expect(object["action"] as? String == "send")
        #expect(object["outcome"] as? String == "would")
        #expect(object["transaction_id"] as? Int == 9)
        // Parameters are embedded JSON, not a quoted string.
        let parameters = try #require(object["parameters"] as? [String: Any])
        #expect(parameters["reportInterval"] as? Int == 60)
    }

    // MARK: State and cycles

    @Test(arguments: Backend.allCases) func liveAndDryRunStateAreKeptApart(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        let tuid = "TSPD04ESY93100802"
        try await store.saveState(
            ruleStates: [
                RuleStateRow(rule: "low-battery", tuid: tuid, dryRun: false, state: Data("live".utf8)),
                RuleStateRow(rule: "low-battery", tuid: tuid, dryRun: true, state: Data("dry".utf8)),
            ],
            devices: [
                DeviceRow(tuid: tuid, dryRun: false, cursorTs: 100, observations: Data(#"{"batl":19}"#.utf8)),
                DeviceRow(tuid: tuid, dryRun: true, cursorTs: 50),
            ])
        // A second save replaces, per (rule, tuid, dry_run) and (tuid, dry_run).
        try await store.saveState(
            ruleStates: [RuleStateRow(rule: "low-battery", tuid: tuid, dryRun: true, state: Data("dry2".utf8))],
            devices: [DeviceRow(tuid: tuid, dryRun: true, cursorTs: 60, updatedAt: 5)])

        #expect(try await store.ruleStates(dryRun: false).map(\.state) == [Data("live".utf8)])
        #expect(try await store.ruleStates(dryRun: true).map(\.state) == [Data("dry2".utf8)])
        let live = try await store.devices(dryRun: false)
        #expect(
            live == [
                DeviceRow(
                    tuid: tuid, dryRun: false, cursorTs: 100, observations: Data(#"{"batl":19}"#.utf8),
                    updatedAt: 1_700_000_000)
            ])
        #expect(
            try await store.devices(dryRun: true) == [DeviceRow(tuid: tuid, dryRun: true, cursorTs: 60, updatedAt: 5)])
    }

    /// One save with more rows than one statement takes, and a key given twice: every row lands, the last one wins.
    @Test(arguments: Backend.allCases) func aLargeSaveKeepsEveryRowAndTheLastOfARepeatedKey(
        _ backend: Backend
    ) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        let tuids = (0..<1_201).map { String(format: "TSPD04ESY9%07d", $0) }
        try await store.saveState(
            ruleStates: tuids.map { RuleStateRow(rule: "r", tuid: $0, dryRun: false, state: Data("first".utf8)) }
                + [RuleStateRow(rule: "r", tuid: tuids[7], dryRun: false, state: Data("last".utf8))],
            devices: tuids.map { DeviceRow(tuid: $0, dryRun: false, cursorTs: 1) }
                + [DeviceRow(tuid: tuids[7], dryRun: false, cursorTs: 2)])
        let states = try await store.ruleStates(dryRun: false)
        #expect(states.count == tuids.count)
        #expect(states.first { $0.tuid == tuids[7] }?.state == Data("last".utf8))
        #expect(states.filter { $0.state == Data("first".utf8) }.count == tuids.count - 1)
        let devices = try await store.devices(dryRun: false)
        #expect(devices.count == tuids.count)
        #expect(devices.first { $0.tuid == tuids[7] }?.cursorTs == 2)
    }

    /// The scheduler reads its state at start through the folds: every row of the mode asked, rule states in device
    /// order (by tuid, then rule) whatever order they were saved in.
    @Test(arguments: Backend.allCases) func theFoldsHandEveryRowOverInDeviceOrder(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open(now: fixedClock)
        let tuids = (0..<30).map { String(format: "TSPD04ESY9%07d", ($0 * 7) % 30) }
        try await store.saveState(
            ruleStates: ["warm", "cold", "lost"].flatMap { rule in
                tuids.map { RuleStateRow(rule: rule, tuid: $0, dryRun: false, state: Data("\(rule) \($0)".utf8)) }
            } + [RuleStateRow(rule: "warm", tuid: tuids[0], dryRun: true, state: Data("dry".utf8))],
            devices: tuids.map { DeviceRow(tuid: $0, dryRun: false, cursorTs: 1, observations: Data($0.utf8)) }
                + [DeviceRow(tuid: "TSPD04ESY9DRYRUN", dryRun: true, cursorTs: 2)])
        let folded = try await store.foldRuleStates(dryRun: false, into: [RuleStateRow]()) { $0.append($1) }
        #expect(folded.map { "\($0.tuid) \($0.rule)" } == tuids.sorted().flatMap { ["\($0) cold", "\($0) lost", "\($0) warm"] })
        #expect(folded.allSatisfy { $0.state == Data("\($0.rule) \($0.tuid)".utf8) && !$0.dryRun })
        #expect(try await store.foldRuleStates(dryRun: true, into: 0) { count, _ in count += 1 } == 1)
        let devices = try await store.foldDevices(dryRun: false, into: [DeviceRow]()) { $0.append($1) }
        #expect(devices.map(\.tuid) == tuids.sorted())
        #expect(devices.allSatisfy { $0.observations == Data($0.tuid.utf8) && $0.cursorTs == 1 })
        #expect(try await store.foldDevices(dryRun: true, into: [String]()) { $0.append($1.tuid) } == ["TSPD04ESY9DRYRUN"])
    }

    @Test(arguments: Backend.allCases) func cyclesAreRecorded(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let first = try await store.beginCycle(startedAt: 1_000, dryRun: false)
        let summary = CycleSummary(
            finishedAt: 1_002, devices: 10, messages: 42, firings: 2, actions: 3, errors: 1, durationMilliseconds: 1_850
        )
        try await store.finishCycle(id: first, summary: summary)
        let second = try await store.beginCycle(startedAt: 1_060, dryRun: true)

        let cycles = try await store.cycles()
        #expect(
            cycles == [
                CycleRecord(id: second, startedAt: 1_060, dryRun: true, summary: nil),
                CycleRecord(id: first, startedAt: 1_000, dryRun: false, summary: summary),
            ])
        let missing = await #expect(throws: StoreError.self) {
            try await store.finishCycle(id: 999, summary: summary)
        }
        #expect(missing?.kind == .noSuchRow(table: "cycles", id: 999))
    }

    // MARK: Identity

    @Test(arguments: Backend.allCases) func theDeploymentIsClaimedOnceAndCursorsCanBeReset(_ backend: Backend)
        async throws
    {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        #expect(try await store.deploymentIdentity() == nil)
        let first = DeploymentIdentity(baseURL: "https://a.example", clientID: "1")
        #expect(try await store.claimDeployment(first) == first)
        #expect(try await store.claimDeployment(DeploymentIdentity(baseURL: "https://b.example", clientID: "2")) == first)
        let other = try await db.open()
        #expect(try await other.deploymentIdentity() == first)
        try await store.saveState(
            ruleStates: [],
            devices: [
                DeviceRow(tuid: "A", dryRun: false, cursorTs: 10), DeviceRow(tuid: "B", dryRun: false, cursorTs: 30),
                DeviceRow(tuid: "A", dryRun: true, cursorTs: 99),
            ])
        #expect(try await store.newestCursor(dryRun: false) == 30)
        try await store.resetCursors(dryRun: false)
        #expect(try await store.newestCursor(dryRun: false) == nil)
        #expect(try await other.newestCursor(dryRun: true) == 99)
        await store.close()
        await other.close()
    }

    // MARK: Two connections

    @Test func aSecondWriterWaitsForTheLockInsteadOfFailing() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path()
        let store = try SQLiteStore(path: path)
        let other = try Database(path: path)
        try other.execute("BEGIN IMMEDIATE")
        try other.run("INSERT INTO cycles (started_at, dry_run) VALUES (1, 0)")

        let clock = ContinuousClock()
        let start = clock.now
        async let ids = store.recordIntents([intent()])
        try await Task.sleep(for: .milliseconds(300))
        try other.execute("COMMIT")
        #expect(try await ids.count == 1)
        #expect(clock.now - start >= .milliseconds(250))
        #expect(try other.count("actions") == 1)
    }

    @Test func aWriterGivesUpAfterTheBusyTimeout() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path()
        var configuration = Database.Configuration()
        configuration.busyTimeoutMilliseconds = 100
        let store = try SQLiteStore(path: path, configuration: configuration)
        let other = try Database(path: path)
        try other.execute("BEGIN IMMEDIATE")
        let error = await #expect(throws: StoreError.self) { try await store.recordIntents([intent()]) }
        #expect(error?.isBusy == true)
        try other.execute("ROLLBACK")
        #expect(try await store.recordIntents([intent()]).count == 1)
    }

    @Test(arguments: Backend.allCases) func twoStoresOnOneDatabaseWriteConcurrently(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let stores = [try await db.open(), try await db.open()]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (n, store) in stores.enumerated() {
                group.addTask {
                    for sequence in 0..<100 {
                        try await store.recordIntents(
                            [intent(tuid: "DEVICE\(n)", sequence: Int64(sequence))],
                            ruleStates: [
                                RuleStateRow(rule: "low-battery", tuid: "DEVICE\(n)", dryRun: false, state: Data([1]))
                            ])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await stores[0].actions().count == 200)
        #expect(try await stores[1].ruleStates(dryRun: false).count == 2)
    }

    // MARK: Bulk

    @Test(arguments: Backend.allCases) func appendedTextComesBackAsItWasWritten(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let awkward = "tab\there, line\nbreak, back\\slash \\N, cr\r, ünïcødé 🌡"
        let rows = [
            intent("awkward", sequence: 1, kind: .log, parameters: #"{"text":"\#(awkward)"}"#),
            ActionIntent(
                time: 2_000, rule: "awkward", tuid: "T\t1", sequence: 2, actionIndex: 0, kind: .move, dryRun: true,
                outcome: .skipped, error: awkward),
        ]
        #expect(try await store.appendActions(rows) == 2)
        #expect(try await store.appendActions(rows) == 0)
        let back = try await store.actions(filter: ActionFilter(rule: "awkward", oldestFirst: true))
        #expect(back.map(\.parameters) == rows.map(\.parameters))
        #expect(back.map(\.tuid) == ["TSPD04ESY93100802", "T\t1"])
        #expect(back[1].error == awkward)
        #expect(back[0].error == nil)
        #expect(back.map(\.outcome) == [.done, .skipped])
        await store.close()
    }

    @Test(arguments: Backend.allCases) func appendActionsInsertsManyRowsInOneTransaction(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let store = try await db.open()
        let rows = (0..<20_000).map { n in
            intent("bulk", tuid: "TSPD04ESY9310\(String(format: "%04d", n % 1000))", sequence: Int64(n), time: Int64(n))
        }
        let clock = ContinuousClock()
        let start = clock.now
        let inserted = try await store.appendActions(rows)
        let elapsed = clock.now - start
        #expect(inserted == rows.count)
        #expect(try await store.actions(filter: ActionFilter(rule: "bulk", limit: 1)).first?.time == 19_999)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print("appendActions: \(rows.count) rows in \(elapsed), \(Int(Double(rows.count) / seconds)) rows/s")
    }
}
