import Foundation
import Logging
import NIOSSL
import PostgresNIO
import Synchronization

/// The ``Store`` on a PostgreSQL server, for several `tsee run` processes sharing one fleet.
///
/// The same schema and guarantees as ``SQLiteStore``, enforced by the server: the action log is append-only (a
/// trigger refuses DELETE, TRUNCATE and UPDATE of what was decided), a firing key is UNIQUE, and intents are written
/// in the same transaction as their rule's state. A pool of connections (postgres-nio's `PostgresClient`) serves
/// concurrent callers; each operation leases one connection, and a transaction stays on it.
///
/// The password is handed to postgres-nio and nowhere else: not to ``location``, not to errors, not to the database.
public final class PostgresStore: Store {
    /// The schema version this code creates and understands (the same as ``SQLiteStore/schemaVersion``).
    public static var schemaVersion: Int { PostgresSchema.migrations.count }

    public let location: String
    public let url: PostgresURL
    let client: PostgresClient
    let now: @Sendable () -> Int64
    let logger: Logger
    /// The lease clock when injected (tests); `nil`: the database server's clock (see ``leaseNow(on:)``).
    let leaseClock: (@Sendable () -> Int64)?
    /// The owner whose leases fence this store's writes, once it has held leases.
    let fencingOwner = Mutex<String?>(nil)
    private let runner: Task<Void, Never>

    private init(
        url: PostgresURL, client: PostgresClient, now: @escaping @Sendable () -> Int64,
        leaseClock: (@Sendable () -> Int64)?, logger: Logger
    ) {
        self.url = url
        self.location = url.description
        self.client = client
        self.now = now
        self.leaseClock = leaseClock
        self.logger = logger
        self.runner = Task { await client.run() }
    }

    /// Connects, creates or migrates the schema, and starts the connection pool.
    ///
    /// Throws a ``StoreError`` with the server's own message when the server cannot be reached or refuses the login,
    /// and ``StoreError/Kind/schemaTooNew(found:supported:)`` for a database written by a newer tsee.
    /// - Parameter now: the clock for `created_at`, `completed_at` and `updated_at` (Unix seconds).
    /// - Parameter leaseClock: the clock leases expire on; by default the server's (see ``leaseNow(on:)``).
    public static func open(
        _ url: PostgresURL, password: String?, now: @escaping @Sendable () -> Int64 = SQLiteStore.systemClock,
        leaseClock: (@Sendable () -> Int64)? = nil, maximumConnections: Int = 10, logger: Logger? = nil
    ) async throws -> PostgresStore {
        var logger = logger ?? Logger(label: "tsee.store.postgres")
        if logger.logLevel < .warning { logger.logLevel = .warning }
        let tls = try tlsOptions(url.sslMode)
        // One connection first, to migrate and to report a refusal at once (a pool retries connecting quietly).
        var single = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.user, password: password, database: url.database,
            tls: tls.connection)
        single.options.connectTimeout = .seconds(10)
        do {
            let connection = try await PostgresConnection.connect(configuration: single, id: 0, logger: logger)
            do {
                try await migrate(connection, url: url, logger: logger)
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        } catch {
            throw storeError(error, operation: "open \(url)")
        }
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.user, password: password, database: url.database,
            tls: tls.client)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return PostgresStore(url: url, client: client, now: now, leaseClock: leaseClock, logger: logger)
    }

    deinit {
        runner.cancel()
    }

    public func close() async {
        runner.cancel()
        await runner.value
    }

    // MARK: TLS

    private static func tlsOptions(
        _ mode: PostgresURL.SSLMode
    ) throws -> (connection: PostgresConnection.Configuration.TLS, client: PostgresClient.Configuration.TLS) {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable:
            return (.disable, .disable)
        case .prefer, .require:
            // libpq's prefer and require encrypt without checking who answers; verify-full checks.
            configuration.certificateVerification = .none
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw StoreError(
                kind: .invalidLocation, code: StoreError.Code.error, message: "cannot set up TLS: \(error)",
                operation: "open the database")
        }
        return mode == .prefer
            ? (.prefer(context), .prefer(configuration)) : (.require(context), .require(configuration))
    }

    // MARK: Migrations

    /// Brings the schema up to date in one transaction, under an advisory lock so that several processes starting
    /// at once migrate one after the other (the later ones find the work done).
    static func migrate(_ connection: PostgresConnection, url: PostgresURL, logger: Logger) async throws {
        let supported = PostgresSchema.migrations.count
        try await connection.query("BEGIN", logger: logger)
        do {
            try await connection.query("SELECT pg_advisory_xact_lock(7465656500)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS tsee_schema (
                    one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
                    version INTEGER NOT NULL
                )
                """, logger: logger)
            var found = 0
            for try await version in try await connection.query(
                "SELECT version FROM tsee_schema", logger: logger
            ).decode(Int.self) {
                found = version
            }
            if found > supported {
                throw StoreError(
                    kind: .schemaTooNew(found: found, supported: supported), code: StoreError.Code.error,
                    message: "the database has schema version \(found), but this tsee knows versions up to "
                        + "\(supported); it was written by a newer tsee: upgrade tsee, or choose another --db",
                    operation: "open \(url)")
            }
            for version in (found + 1)..<(supported + 1) {
                for statement in PostgresSchema.migrations[version - 1] {
                    do {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    } catch {
                        let inner = storeError(error, operation: "")
                        throw StoreError(
                            kind: inner.kind, code: inner.code, message: inner.message,
                            operation: "migrate \(url) to schema version \(version)", sql: statement)
                    }
                }
            }
            if found < supported {
                try await connection.query(
                    """
                    INSERT INTO tsee_schema (one, version) VALUES (true, \(supported))
                    ON CONFLICT (one) DO UPDATE SET version = excluded.version
                    """, logger: logger)
            }
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// The schema version recorded in the database.
    public func storedSchemaVersion() async throws -> Int {
        try await withConnection("read the schema version") { connection in
            var found = 0
            for try await version in try await connection.query(
                "SELECT version FROM tsee_schema", logger: logger
            ).decode(Int.self) {
                found = version
            }
            return found
        }
    }

    /// Runs one SQL statement as given, for what the typed API does not cover (inspection, tests, benchmarks);
    /// the counterpart of ``SQLiteStore/withDatabase(_:)``. Returns the first column of the rows, as integers.
    @discardableResult
    public func execute(unsafeSQL sql: String) async throws -> [Int64?] {
        try await withConnection("run \(sql.prefix(60))") { connection in
            try await rows(PostgresQuery(unsafeSQL: sql), on: connection).map { row in
                row.count == 0 ? nil : try row[0].decode(Int64?.self)
            }
        }
    }

    // MARK: Running queries

    /// Runs `body` on one pooled connection; every error becomes a ``StoreError`` naming `operation`.
    func withConnection<T: Sendable>(
        _ operation: @autoclosure () -> String, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch {
            throw Self.storeError(error, operation: operation())
        }
    }

    /// Runs `body` in one transaction on one connection: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(
        _ operation: @autoclosure () -> String, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection(operation()) { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return value
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// The rows of a query, read whole.
    func rows(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [PostgresRandomAccessRow] {
        var rows: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(query, logger: logger) {
            rows.append(row.makeRandomAccess())
        }
        return rows
    }

    /// Runs a statement, reading whatever it returns. Where a count of changed rows matters, the statement says
    /// `RETURNING` and ``rows(_:on:)`` counts them.
    func run(_ query: PostgresQuery, on connection: PostgresConnection) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    // MARK: Errors

    /// The server's own message and SQLSTATE, or the connection failure, as a ``StoreError``; never a password.
    static func storeError(_ error: any Error, operation: String) -> StoreError {
        if let error = error as? StoreError {
            return operation.isEmpty || !error.operation.isEmpty
                ? error
                : StoreError(kind: error.kind, code: error.code, message: error.message, operation: operation)
        }
        guard let error = error as? PSQLError else {
            return StoreError(
                kind: .postgres(sqlState: nil), code: StoreError.Code.error, message: "\(error)", operation: operation)
        }
        if let info = error.serverInfo {
            let state = info[.sqlState] ?? ""
            var message = info[.message] ?? "the server refused"
            if let detail = info[.detail] { message += " (\(detail))" }
            if let hint = info[.hint] { message += "; hint: \(hint)" }
            if state == "28P01" || state == "28000" {
                message += "; check the user and the password (PGPASSWORD, ~/.pgpass or db_password_file)"
            } else if state == "3D000" {
                message += "; create it (createdb) or name another in the URL"
            }
            return StoreError(
                kind: .postgres(sqlState: state), code: code(sqlState: state), message: message,
                operation: operation, sql: error.query?.sql)
        }
        var message: String
        switch error.code {
        case .connectionError:
            message = "cannot connect to the server"
        case .serverClosedConnection, .clientClosedConnection, .uncleanShutdown:
            message = "the connection to the server was closed"
        case .sslUnsupported:
            message = "the server does not offer TLS, and sslmode=require (or verify-full) demands it"
        case .authMechanismRequiresPassword:
            message = "the server asks for a password and none was found: set PGPASSWORD, add a line to "
                + "~/.pgpass, or give the profile a db_password_file"
        case .unsupportedAuthMechanism:
            message = "the server asks for an authentication method tsee does not support"
        case .poolClosed:
            message = "the store is closed"
        default:
            message = "PostgreSQL client error \(error.code)"
        }
        if let underlying = error.underlying { message += ": \(underlying)" }
        if error.code == .connectionError { message += "; is the server running, and is the host and port right?" }
        return StoreError(kind: .postgres(sqlState: nil), code: StoreError.Code.cantOpen, message: message,
            operation: operation)
    }

    /// The SQLite code closest to a SQLSTATE, so that callers test one set of codes for both stores.
    static func code(sqlState: String) -> Int32 {
        switch sqlState {
        case "23505": StoreError.Code.constraintUnique
        case "23514": StoreError.Code.constraintCheck
        case "23502": StoreError.Code.constraintNotNull
        case "23001": StoreError.Code.constraintTrigger
        case _ where sqlState.hasPrefix("23"): StoreError.Code.constraint
        case "40001", "40P01", "55P03": StoreError.Code.busy
        default: StoreError.Code.error
        }
    }
}
