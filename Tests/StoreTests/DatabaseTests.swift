import Foundation
import Store
import Testing

@Suite struct DatabaseTests {
    @Test func openCreatesParentDirectoriesAndPrivateFilesInWALMode() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("state/tsee/tsee.db")
        let db = try Database(path: path)
        try db.execute("CREATE TABLE t (x INTEGER)")
        try db.execute("INSERT INTO t VALUES (1)")

        #expect(fileMode(path) == 0o600)
        // While the connection is open in WAL mode the -wal and -shm files exist; they must be private too.
        #expect(fileMode(path + "-wal") == 0o600)
        #expect(fileMode(path + "-shm") == 0o600)
        #expect(fileMode(dir.path("state/tsee")) == 0o700)
        #expect(try db.journalMode() == "wal")
        #expect(try db.query("PRAGMA busy_timeout") { $0.int(at: 0) } == [5000])
        #expect(try db.query("PRAGMA foreign_keys") { $0.int(at: 0) } == [1])
        #expect(try db.query("PRAGMA synchronous") { $0.int(at: 0) } == [1])  // NORMAL
    }

    @Test func openNarrowsAnExistingWorldReadableFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path()
        _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644])
        _ = try Database(path: path)
        #expect(fileMode(path) == 0o600)
    }

    @Test func typedBindingsRoundTrip() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.path())
        try db.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n ANY)")
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?)")
        try insert.bind(Int64.max, at: 1)
        try insert.bind(-0.125, at: 2)
        try insert.bind("Kylmähuone °C ✓", at: 3)
        try insert.bind(Data([0, 1, 2, 255]), at: 4)
        try insert.bind(nil as String?, at: 5)
        #expect(try insert.step() == false)
        #expect(db.lastInsertRowID == 1)
        #expect(db.changes == 1)
        insert.reset()
        try insert.run([.integer(-1), .real(2.5), .text(""), .blob(Data()), .null])

        let rows = try db.query("SELECT i, r, s, b, n FROM t ORDER BY rowid") { row in
            (row.int64(at: 0), row.double(at: 1), row.string(at: 2), row.data(at: 3), row.isNull(at: 4))
        }
        #expect(rows.count == 2)
        #expect(rows[0].0 == Int64.max)
        #expect(rows[0].1 == -0.125)
        #expect(rows[0].2 == "Kylmähuone °C ✓")
        #expect(rows[0].3 == Data([0, 1, 2, 255]))
        #expect(rows[0].4)
        // An empty blob stays a blob, not NULL.
        #expect(try db.query("SELECT typeof(b) FROM t WHERE i = -1") { $0.string(at: 0) } == ["blob"])
        #expect(try db.query("SELECT b FROM t WHERE i = -1") { $0.value(at: 0) } == [.blob(Data())])
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        struct Interrupted: Error {}
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.path())
        try db.execute("CREATE TABLE t (x INTEGER)")
        #expect(throws: Interrupted.self) {
            try db.transaction {
                try db.execute("INSERT INTO t VALUES (1)")
                throw Interrupted()
            }
        }
        #expect(try db.count("t") == 0)
        #expect(db.isAutocommit)

        // Nested: the inner failure undoes only the inner part.
        try db.transaction {
            try db.execute("INSERT INTO t VALUES (1)")
            try? db.transaction {
                try db.execute("INSERT INTO t VALUES (2)")
                throw Interrupted()
            }
        }
        #expect(try db.query("SELECT x FROM t") { $0.int(at: 0) } == [1])
    }

    @Test func constraintViolationCarriesExtendedCodeMessageAndSQL() throws {
        let dir = try TemporaryDirectory()
        let db = try Database(path: dir.path())
        try db.execute("CREATE TABLE t (x INTEGER UNIQUE)")
        try db.run("INSERT INTO t VALUES (?)", [1])
        let error = #expect(throws: StoreError.self) {
            try db.run("INSERT INTO t VALUES (?)", [1])
        }
        #expect(error?.kind == .sqlite)
        #expect(error?.code == StoreError.Code.constraintUnique)
        #expect(error?.code == 2067)
        #expect(error?.primaryCode == StoreError.Code.constraint)
        #expect(error?.isConstraintViolation == true)
        #expect(error?.message == "UNIQUE constraint failed: t.x")
        #expect(error?.sql == "INSERT INTO t VALUES (?)")
        #expect(error?.description.contains("2067") == true)
        #expect(error?.description.contains("UNIQUE constraint failed: t.x") == true)
    }

    @Test func syntaxErrorNamesTheSQL() throws {
        let db = try Database(path: ":memory:")
        let error = #expect(throws: StoreError.self) { try db.prepare("SELEC 1") }
        #expect(error?.code == StoreError.Code.error)
        #expect(error?.operation == "prepare")
        #expect(error?.sql == "SELEC 1")
        #expect(error?.message.contains("syntax error") == true)
    }

    @Test func cachedStatementIsReusedAndReset() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t (x INTEGER)")
        let first = try db.cachedStatement("INSERT INTO t VALUES (?)")
        try first.bind(Int64(1), at: 1)
        let second = try db.cachedStatement("INSERT INTO t VALUES (?)")
        #expect(first === second)
        try second.step()  // bindings were cleared: inserts NULL
        #expect(try db.query("SELECT x IS NULL FROM t") { $0.bool(at: 0) } == [true])
    }

    @Test func closedDatabaseThrowsMisuse() throws {
        let db = try Database(path: ":memory:")
        db.close()
        db.close()
        let error = #expect(throws: StoreError.self) { try db.execute("SELECT 1") }
        #expect(error?.code == StoreError.Code.misuse)
    }
}
