import CSQLite3
import Foundation

/// The ``Store`` in one SQLite file: the default, for one `tsee run` at a time (``RunLock``).
///
/// An actor owning one SQLite connection in WAL mode. Several `SQLiteStore`s (in one process or several) may open the
/// same file: a writer waits for another's write lock up to the busy timeout instead of failing.
///
/// Secrets (the client secret, access tokens) are never written here: no table has a column for them.
public actor SQLiteStore: Store {
    /// The schema version this code creates and understands (`PRAGMA user_version`).
    public static var schemaVersion: Int { Schema.migrations.count }

    /// The database file's path.
    public nonisolated let path: String
    public nonisolated var location: String { path }
    let database: Database
    let now: @Sendable () -> Int64
    private nonisolated let executor = QueueExecutor(label: "tsee.store")

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// The local clock in Unix seconds.
    public static let systemClock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    /// Opens or creates the database at `path` and brings its schema up to date.
    ///
    /// Creates missing parent directories (mode 0700) and the file (mode 0600); throws
    /// ``StoreError/Kind/schemaTooNew(found:supported:)`` for a file written by a newer tsee.
    /// - Parameter now: the clock for `created_at`, `completed_at` and `updated_at` (Unix seconds).
    public init(
        path: String,
        configuration: Database.Configuration = Database.Configuration(),
        now: @escaping @Sendable () -> Int64 = SQLiteStore.systemClock
    ) throws {
        let database = try Database(path: path, configuration: configuration)
        try database.migrate(Schema.migrations)
        self.path = path
        self.database = database
        self.now = now
    }

    /// Closes the connection; later calls throw. Dropping the last reference closes it too.
    public func close() {
        database.close()
    }

    /// Runs `body` with the connection, for what the typed API does not cover (inspection, benchmarks).
    public func withDatabase<T: Sendable>(_ body: (Database) throws -> T) throws -> T {
        try body(database)
    }
}
