import Foundation
import Store
import Testing
import TestSupport

/// What only the PostgreSQL store has: a URL, a password, a server that may refuse, several processes migrating.
@Suite struct PostgresStoreTests {
    // MARK: The URL and the password

    @Test func urlsAreParsedAndShownWithoutAPassword() throws {
        let url = try PostgresURL.parse("postgresql://ops@db.internal:6543/tsee?sslmode=require")
        #expect(url == PostgresURL(user: "ops", host: "db.internal", port: 6543, database: "tsee", sslMode: .require))
        #expect(url.description == "postgres://ops@db.internal:6543/tsee?sslmode=require")
        #expect(try PostgresURL.parse("postgres://ops@db/tsee").port == 5432)
        #expect(try PostgresURL.parse("postgres://ops@db/tsee").sslMode == .prefer)
        #expect(try StoreLocation.parse("/var/lib/tsee/tsee.db") == .sqlite(path: "/var/lib/tsee/tsee.db"))
        #expect(try StoreLocation.parse("POSTGRES://ops@db/tsee") == .postgres(try PostgresURL.parse("postgres://ops@db/tsee")))

        let withPassword = #expect(throws: StoreError.self) {
            try StoreLocation.parse("postgres://ops:hunter2-secret@db/tsee")
        }
        #expect(withPassword?.kind == .invalidLocation)
        #expect(withPassword?.description.contains("PGPASSWORD") == true)
        #expect(withPassword?.description.contains("hunter2") == false)
        for bad in ["postgres://db/tsee", "postgres://ops@/tsee", "postgres://ops@db", "postgres://ops@db/t?sslmode=x",
            "postgres://ops@db/t?foo=1"]
        {
            let error = #expect(throws: StoreError.self, "\(bad)") { try PostgresURL.parse(bad) }
            #expect(error?.description.contains("postgres://USER@HOST:PORT/DB") == true)
        }
    }

    @Test func thePasswordComesFromPGPASSWORDThenTheProfileFileThenPgpass() throws {
        let dir = try TemporaryDirectory()
        let url = PostgresURL(user: "ops", host: "db", port: 5432, database: "tsee")
        let pgpass = dir.path("pgpass")
        try """
            # comment
            other:5432:tsee:ops:not-this-one
            db:*:tsee:ops:from\\:pgpass
            *:*:*:*:fallback
            """.write(toFile: pgpass, atomically: true, encoding: .utf8)
        chmod(pgpass, 0o600)
        let profileFile = dir.path("db-password")
        try "from-profile\n".write(toFile: profileFile, atomically: true, encoding: .utf8)

        let pgpassOnly = ["PGPASSFILE": pgpass]
        #expect(try PostgresPassword.resolve(for: url, passwordFile: nil, environment: pgpassOnly) == "from:pgpass")
        #expect(
            try PostgresPassword.resolve(for: url, passwordFile: profileFile, environment: pgpassOnly)
                == "from-profile")
        #expect(
            try PostgresPassword.resolve(
                for: url, passwordFile: profileFile, environment: pgpassOnly.merging(["PGPASSWORD": "from-env"]) { $1 })
                == "from-env")
        #expect(try PostgresPassword.resolve(for: url, passwordFile: nil, environment: ["HOME": dir.path("none")]) == nil)

        // A password file others can read is refused, as libpq refuses it, with what to do.
        chmod(pgpass, 0o644)
        let open = #expect(throws: StoreError.self) {
            try PostgresPassword.resolve(for: url, passwordFile: nil, environment: pgpassOnly)
        }
        #expect(open?.description.contains("chmod 0600") == true)
        let missing = #expect(throws: StoreError.self) {
            try PostgresPassword.resolve(for: url, passwordFile: dir.path("nope"), environment: [:])
        }
        #expect(missing?.description.contains("db_password_file") == true)
    }

    // MARK: A real server

    @Test func aWrongPasswordIsRefusedWithTheServersMessageAndNeverShown() async throws {
        let server = try PostgresServer.shared()
        let url = try PostgresURL.parse(server.url(database: try server.makeDatabase()))
        let secret = "wrong-\(UUID().uuidString)"
        let error = await #expect(throws: StoreError.self) { try await PostgresStore.open(url, password: secret) }
        let text = error?.description ?? ""
        #expect(text.contains("password authentication failed"), "\(text)")
        #expect(text.contains("PGPASSWORD"))
        #expect(text.contains(url.description))
        #expect(!text.contains(secret))
        #expect(!text.contains(server.password))
        #expect(error?.kind == .postgres(sqlState: "28P01"))

        let none = await #expect(throws: StoreError.self) { try await PostgresStore.open(url, password: nil) }
        #expect(none?.description.contains("password") == true, "\(none?.description ?? "")")
    }

    @Test func aMissingDatabaseOrServerIsReportedWithWhatToDo() async throws {
        let server = try PostgresServer.shared()
        let missing = try PostgresURL.parse(server.url(database: "no_such_database"))
        let error = await #expect(throws: StoreError.self) {
            try await PostgresStore.open(missing, password: server.password)
        }
        #expect(error?.description.contains("does not exist") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("createdb") == true)

        let nobody = PostgresURL(user: "tsee", host: "127.0.0.1", port: try freeLoopbackPort(), database: "tsee")
        let refused = await #expect(throws: StoreError.self) {
            try await PostgresStore.open(nobody, password: server.password)
        }
        #expect(refused?.description.contains("cannot connect") == true, "\(refused?.description ?? "")")
        #expect(refused?.description.contains(server.password) == false)
    }

    @Test func sslmodeRequireRefusesAServerWithoutTLSAndPreferFallsBack() async throws {
        let server = try PostgresServer.shared()
        let name = try server.makeDatabase()
        let required = try PostgresURL.parse(server.url(database: name, sslMode: "require"))
        let error = await #expect(throws: StoreError.self) {
            try await PostgresStore.open(required, password: server.password)
        }
        #expect(error?.description.contains("TLS") == true, "\(error?.description ?? "")")
        for mode in ["prefer", "disable"] {
            let store = try await PostgresStore.open(
                try PostgresURL.parse(server.url(database: name, sslMode: mode)), password: server.password)
            #expect(try await store.actions().isEmpty)
            await store.close()
        }
    }

    @Test func severalProcessesOpeningAtOnceMigrateOnce() async throws {
        let db = try TestDatabase(.postgres)
        let stores = try await withThrowingTaskGroup(of: (any Store).self) { group in
            for _ in 0..<4 { group.addTask { try await db.open() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let store = try #require(stores.first as? PostgresStore)
        #expect(try await store.storedSchemaVersion() == SQLiteStore.schemaVersion)
        #expect(PostgresStore.schemaVersion == SQLiteStore.schemaVersion)
        for store in stores { await store.close() }
    }

    @Test func aNewerSchemaIsRefusedWithAClearError() async throws {
        let db = try TestDatabase(.postgres)
        await (try await db.open()).close()
        try await db.execute("UPDATE tsee_schema SET version = version + 5")
        let error = await #expect(throws: StoreError.self) { try await db.open() }
        #expect(
            error?.kind == .schemaTooNew(found: SQLiteStore.schemaVersion + 5, supported: SQLiteStore.schemaVersion))
        #expect(error?.description.contains("newer tsee") == true)
    }
}
