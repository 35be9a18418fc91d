import CSQLite3
import Foundation

/// One SQLite connection: a thin wrapper over libsqlite3.
///
/// Not `Sendable`: a connection is used by one task at a time. The ``Store`` actor owns one and so serializes all
/// access to it; the compiler's region checks keep any other owner honest, so no `@unchecked Sendable` is needed.
public final class Database {
    /// `sqlite3_open_v2` flags.
    public struct OpenFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let readOnly = OpenFlags(rawValue: SQLITE_OPEN_READONLY)
        public static let readWrite = OpenFlags(rawValue: SQLITE_OPEN_READWRITE)
        public static let create = OpenFlags(rawValue: SQLITE_OPEN_CREATE)
        public static let uri = OpenFlags(rawValue: SQLITE_OPEN_URI)
        /// No connection mutex: safe because one owner serializes every call.
        public static let noMutex = OpenFlags(rawValue: SQLITE_OPEN_NOMUTEX)
        public static let fullMutex = OpenFlags(rawValue: SQLITE_OPEN_FULLMUTEX)
    }

    /// How a connection is set up after it opens.
    public struct Configuration: Sendable {
        /// Mode of a database file this connection creates; an existing file with wider permissions is narrowed
        /// to it. SQLite gives the `-wal` and `-shm` files the database file's mode.
        public var fileMode: mode_t = 0o600
        /// `PRAGMA journal_mode=WAL`.
        public var walMode = true
        /// `PRAGMA busy_timeout`, in milliseconds: how long a writer waits for another connection's lock.
        public var busyTimeoutMilliseconds: Int32 = 5000
        /// `PRAGMA foreign_keys=ON`.
        public var foreignKeys = true
        /// `PRAGMA synchronous=NORMAL` (durable at each WAL checkpoint; never corrupt).
        public var synchronousNormal = true

        public init() {}
    }

    /// The path given to ``init(path:flags:configuration:)``.
    public let path: String
    private var handle: OpaquePointer?
    private var statementCache: [String: Statement] = [:]

    /// Opens (and with `.create` creates, with its parent directories) the database at `path`.
    ///
    /// `":memory:"` and empty paths open a private in-memory or temporary database.
    public init(
        path: String,
        flags: OpenFlags = [.readWrite, .create, .noMutex],
        configuration: Configuration = Configuration()
    ) throws {
        self.path = path
        let onDisk = !path.isEmpty && path != ":memory:" && !path.hasPrefix("file:")
        if onDisk && flags.contains(.create) {
            try Self.prepareFile(at: path, mode: configuration.fileMode)
        }

        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags.rawValue | SQLITE_OPEN_EXRESCODE, nil)
        guard rc == SQLITE_OK, let db else {
            let error = StoreError.sqlite(db, code: rc, operation: "open \(path)")
            sqlite3_close_v2(db)
            throw error
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)

        do {
            try execute("PRAGMA busy_timeout = \(configuration.busyTimeoutMilliseconds)")
            if configuration.foreignKeys { try execute("PRAGMA foreign_keys = ON") }
            if !flags.contains(.readOnly) {
                if configuration.walMode { try execute("PRAGMA journal_mode = WAL") }
                if configuration.synchronousNormal { try execute("PRAGMA synchronous = NORMAL") }
            }
        } catch {
            close()
            throw error
        }
        if onDisk {
            // SQLite copies the database file's mode to -wal and -shm; narrow any left by an older run.
            for suffix in ["-wal", "-shm"] { Self.narrowMode(of: path + suffix, to: configuration.fileMode) }
        }
    }

    deinit {
        close()
    }

    /// Closes the connection. Later calls throw `SQLITE_MISUSE`. Closing twice is harmless.
    public func close() {
        for statement in statementCache.values { statement.finalize() }
        statementCache.removeAll()
        // close_v2: statements still held elsewhere keep the connection alive until they are finalized.
        sqlite3_close_v2(handle)
        handle = nil
    }

    public var isOpen: Bool { handle != nil }

    var db: OpaquePointer {
        get throws {
            guard let handle else {
                throw StoreError(code: SQLITE_MISUSE, message: "database is closed", operation: "use \(path)")
            }
            return handle
        }
    }

    // MARK: Statements

    /// Runs one or more SQL statements separated by semicolons, discarding any rows.
    public func execute(_ sql: String) throws {
        let db = try db
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) }
            sqlite3_free(errorMessage)
            let error = StoreError.sqlite(db, code: rc, operation: "execute", sql: sql)
            throw StoreError(
                code: error.code, message: message ?? error.message, operation: error.operation, sql: sql)
        }
    }

    /// Prepares a new statement that the caller owns.
    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: db, sql: sql)
    }

    /// Returns a prepared statement for `sql` kept for reuse on this connection, reset and with cleared bindings.
    ///
    /// For hot statements (inserts in a loop). Don't hold it across a second `cachedStatement` call with the same SQL.
    public func cachedStatement(_ sql: String) throws -> Statement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    /// Runs `sql` once with `values` bound to its parameters; uses the statement cache.
    public func run(_ sql: String, _ values: [SQLValue] = []) throws {
        try cachedStatement(sql).run(values)
    }

    /// Runs a query with `values` bound and maps each row; uses the statement cache.
    public func query<T>(_ sql: String, _ values: [SQLValue] = [], row: (Statement) throws -> T) throws -> [T] {
        try cachedStatement(sql).query(values, row: row)
    }

    /// Calls `row` for each result row of `sql`, keeping none: for reads too large to hold as a whole.
    public func forEach(_ sql: String, _ values: [SQLValue] = [], row: (Statement) throws -> Void) throws {
        try cachedStatement(sql).forEach(values, row: row)
    }

    /// The row id of the most recent successful INSERT on this connection.
    public var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE on this connection.
    public var changes: Int { handle.map { Int(sqlite3_changes64($0)) } ?? 0 }

    /// `false` while a transaction is open.
    public var isAutocommit: Bool { handle.map { sqlite3_get_autocommit($0) != 0 } ?? true }

    // MARK: Transactions

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// Starts with `BEGIN IMMEDIATE`, so the write lock is taken (waiting up to the busy timeout) before `body`
    /// runs and a later write cannot fail with `SQLITE_BUSY`. Inside an open transaction it nests as a savepoint.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let nested = !isAutocommit
        try execute(nested ? "SAVEPOINT tsee_nested" : "BEGIN IMMEDIATE")
        let result: T
        do {
            result = try body()
        } catch {
            // If SQLite already rolled back (e.g. on SQLITE_FULL) there is nothing left to undo.
            if nested {
                try? execute("ROLLBACK TO tsee_nested; RELEASE tsee_nested")
            } else if !isAutocommit {
                try? execute("ROLLBACK")
            }
            throw error
        }
        do {
            try execute(nested ? "RELEASE tsee_nested" : "COMMIT")
        } catch {
            if !nested && !isAutocommit { try? execute("ROLLBACK") }
            throw error
        }
        return result
    }

    // MARK: PRAGMAs

    /// `PRAGMA user_version`: the schema version.
    public func userVersion() throws -> Int {
        try query("PRAGMA user_version") { $0.int(at: 0) }.first ?? 0
    }

    public func setUserVersion(_ version: Int) throws {
        try execute("PRAGMA user_version = \(version)")
    }

    /// The journal mode in effect, e.g. "wal".
    public func journalMode() throws -> String {
        try query("PRAGMA journal_mode") { $0.string(at: 0) }.first ?? ""
    }

    // MARK: Files

    private static func prepareFile(at path: String, mode: mode_t) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError(
                    kind: .fileSystem(errno: EACCES), code: SQLITE_CANTOPEN,
                    message: "cannot create directory \(directory): \(error.localizedDescription)",
                    operation: "open \(path)")
            }
        }
        // Create the file ourselves so it never exists, even briefly, with wider permissions.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw StoreError(
                kind: .fileSystem(errno: code), code: SQLITE_CANTOPEN,
                message: "cannot create \(path): \(String(cString: strerror(code)))", operation: "open \(path)")
        }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & 0o777 & ~mode != 0 {
            _ = fchmod(fd, info.st_mode & 0o777 & mode)
        }
        closeDescriptor(fd)
    }

    private static func narrowMode(of path: String, to mode: mode_t) {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & 0o777 & ~mode != 0 else { return }
        _ = chmod(path, info.st_mode & 0o777 & mode)
    }
}

/// Outside the class, where `close` means the system call and not ``Database/close()``.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
