import CSQLite3

/// The one error type of the `Store` module.
///
/// Carries what a person needs (``message``, ``operation``, ``sql``) and what code needs (``kind`` and the SQLite
/// extended result ``code``), in the manner of GRDB's `DatabaseError`. PostgreSQL errors carry the server's own
/// message and SQLSTATE, and the closest SQLite code (a unique violation is `constraintUnique` on both stores).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, for code that wants to react to a particular case.
    public enum Kind: Sendable, Equatable {
        /// SQLite refused; ``StoreError/code`` holds its extended result code.
        case sqlite
        /// The database was written by a newer tsee whose schema this code does not know.
        case schemaTooNew(found: Int, supported: Int)
        /// Creating the database's directory or file failed with this `errno`.
        case fileSystem(errno: Int32)
        /// No row of `table` has this id.
        case noSuchRow(table: String, id: Int64)
        /// The action exists but is not in a state that allows this update (the log is append-only).
        case invalidTransition(id: Int64)
        /// PostgreSQL refused (with this SQLSTATE, e.g. `23505`), or could not be reached (`nil`).
        /// ``StoreError/code`` holds the closest SQLite code, so callers test one set of codes for both stores.
        case postgres(sqlState: String?)
        /// `--db` (or a profile's `db`, or its password) cannot be used as given.
        case invalidLocation
        /// This process no longer holds the device's lease (it expired and another process took it over): the
        /// write was refused so that only the device's owner acts on it.
        case leaseLost(tuid: String)
    }

    public let kind: Kind
    /// The SQLite extended result code (e.g. 2067, `SQLITE_CONSTRAINT_UNIQUE`). For errors that did not come from
    /// SQLite, the closest primary code (`SQLITE_CANTOPEN`, `SQLITE_ERROR`, `SQLITE_NOTFOUND`, `SQLITE_MISUSE`).
    public let code: Int32
    /// The message, from `sqlite3_errmsg` for SQLite errors.
    public let message: String
    /// What was being attempted, e.g. "open /var/lib/tsee/tsee.db" or "prepare".
    public let operation: String
    /// The SQL that failed, when there was one.
    public let sql: String?

    public init(kind: Kind = .sqlite, code: Int32, message: String, operation: String, sql: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.operation = operation
        self.sql = sql
    }

    /// The primary result code (the low byte of ``code``), e.g. `SQLITE_CONSTRAINT` (19).
    public var primaryCode: Int32 { code & 0xFF }

    /// SQLite result codes that callers of this module test for, so they need not import the C module.
    /// Extended codes are macros Swift cannot import; these are their values.
    public enum Code {
        public static let error: Int32 = 1
        public static let busy: Int32 = 5
        public static let notFound: Int32 = 12
        public static let cantOpen: Int32 = 14
        public static let constraint: Int32 = 19
        public static let mismatch: Int32 = 20
        public static let misuse: Int32 = 21
        public static let constraintCheck: Int32 = 19 | (1 << 8)
        public static let constraintNotNull: Int32 = 19 | (5 << 8)
        public static let constraintPrimaryKey: Int32 = 19 | (6 << 8)
        public static let constraintTrigger: Int32 = 19 | (7 << 8)
        public static let constraintUnique: Int32 = 19 | (8 << 8)
    }

    public var isConstraintViolation: Bool { primaryCode == SQLITE_CONSTRAINT }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }

    public var description: String {
        var text = "\(operation) failed: \(message)"
        if kind == .sqlite {
            text += " (SQLite error \(code): \(String(cString: sqlite3_errstr(code))))"
        } else if case .postgres(let state?) = kind, !state.isEmpty {
            text += " (PostgreSQL SQLSTATE \(state))"
        }
        if let sql {
            text += " [SQL: \(sql.count > 200 ? String(sql.prefix(200)) + "…" : sql)]"
        }
        return text
    }

    /// Builds an error from the connection's current error state.
    static func sqlite(_ db: OpaquePointer?, code: Int32, operation: String, sql: String? = nil) -> StoreError {
        let extended = db.map { sqlite3_extended_errcode($0) } ?? code
        let message =
            db.flatMap { sqlite3_errmsg($0).map { String(cString: $0) } } ?? String(cString: sqlite3_errstr(code))
        // sqlite3_extended_errcode reflects the most recent call on the connection; prefer it only when it agrees.
        let reported = (extended & 0xFF) == (code & 0xFF) ? extended : code
        return StoreError(kind: .sqlite, code: reported, message: message, operation: operation, sql: sql)
    }
}
