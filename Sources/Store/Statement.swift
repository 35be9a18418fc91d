import CSQLite3
import Foundation

/// A prepared statement: bind parameters (1-based, as in SQLite), step, read columns (0-based).
///
/// Not `Sendable`: it belongs to the connection that prepared it and is used by one task at a time.
public final class Statement {
    /// The SQL text this statement was prepared from.
    public let sql: String
    private var handle: OpaquePointer?

    init(database db: OpaquePointer, sql: String) throws {
        self.sql = sql
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw StoreError.sqlite(db, code: rc, operation: "prepare", sql: sql)
        }
        handle = stmt
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Finalizes the statement now; it cannot be used afterwards.
    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    private var stmt: OpaquePointer {
        get throws {
            guard let handle else {
                throw StoreError(
                    code: SQLITE_MISUSE, message: "statement already finalized", operation: "use", sql: sql)
            }
            return handle
        }
    }

    private func check(_ rc: Int32, _ operation: String) throws {
        guard rc == SQLITE_OK else {
            throw StoreError.sqlite(handle.flatMap { sqlite3_db_handle($0) }, code: rc, operation: operation, sql: sql)
        }
    }

    // MARK: Binding

    /// The number of `?` parameters.
    public var parameterCount: Int32 { handle.map { sqlite3_bind_parameter_count($0) } ?? 0 }

    /// The 1-based index of a named parameter such as `:rule`, or nil.
    public func parameterIndex(_ name: String) -> Int32? {
        let index = handle.map { sqlite3_bind_parameter_index($0, name) } ?? 0
        return index > 0 ? index : nil
    }

    public func bind(_ value: Int64?, at index: Int32) throws {
        guard let value else { return try bindNull(at: index) }
        try check(sqlite3_bind_int64(stmt, index, value), "bind parameter \(index)")
    }

    public func bind(_ value: Int?, at index: Int32) throws {
        try bind(value.map(Int64.init), at: index)
    }

    /// Binds 1 or 0.
    public func bind(_ value: Bool?, at index: Int32) throws {
        try bind(value.map { $0 ? Int64(1) : 0 }, at: index)
    }

    public func bind(_ value: Double?, at index: Int32) throws {
        guard let value else { return try bindNull(at: index) }
        try check(sqlite3_bind_double(stmt, index, value), "bind parameter \(index)")
    }

    public func bind(_ value: String?, at index: Int32) throws {
        guard let value else { return try bindNull(at: index) }
        try check(sqlite3_bind_text(stmt, index, value, -1, tsee_sqlite_transient()), "bind parameter \(index)")
    }

    public func bind(_ value: Data?, at index: Int32) throws {
        guard let value else { return try bindNull(at: index) }
        let s = try stmt
        let rc = value.withUnsafeBytes { bytes in
            // A zero-length blob must still be a blob, not NULL: sqlite3_bind_zeroblob does that.
            bytes.baseAddress.map {
                sqlite3_bind_blob64(s, index, $0, sqlite3_uint64(bytes.count), tsee_sqlite_transient())
            } ?? sqlite3_bind_zeroblob(s, index, 0)
        }
        try check(rc, "bind parameter \(index)")
    }

    public func bindNull(at index: Int32) throws {
        try check(sqlite3_bind_null(stmt, index), "bind parameter \(index)")
    }

    public func bind(_ value: SQLValue, at index: Int32) throws {
        switch value {
        case .integer(let v): try bind(v, at: index)
        case .real(let v): try bind(v, at: index)
        case .text(let v): try bind(v, at: index)
        case .blob(let v): try bind(v, at: index)
        case .null: try bindNull(at: index)
        }
    }

    /// Binds `values` to parameters 1, 2, … in order.
    public func bind(_ values: [SQLValue]) throws {
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    /// Clears the bindings and resets the statement so it can run again.
    public func reset() {
        guard let handle else { return }
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: Running

    /// Steps once: `true` when a row is available, `false` when done.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(try stmt)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = StoreError.sqlite(sqlite3_db_handle(try stmt), code: rc, operation: "step", sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Binds `values` (when given), runs to completion and resets; for statements without results.
    public func run(_ values: [SQLValue] = []) throws {
        defer { reset() }
        if !values.isEmpty { try bind(values) }
        while try step() {}
    }

    /// Binds `values` (when given), calls `row` for each result row as it is stepped to, keeping none, and resets.
    public func forEach(_ values: [SQLValue] = [], row: (Statement) throws -> Void) throws {
        defer { reset() }
        if !values.isEmpty { try bind(values) }
        while try step() { try row(self) }
    }

    /// Binds `values` (when given), calls `row` for each result row and resets.
    public func query<T>(_ values: [SQLValue] = [], row: (Statement) throws -> T) throws -> [T] {
        defer { reset() }
        if !values.isEmpty { try bind(values) }
        var rows: [T] = []
        while try step() {
            rows.append(try row(self))
        }
        return rows
    }

    // MARK: Columns (0-based)

    public var columnCount: Int32 { handle.map { sqlite3_column_count($0) } ?? 0 }

    public func columnName(at index: Int32) -> String {
        handle.flatMap { sqlite3_column_name($0, index) }.map { String(cString: $0) } ?? ""
    }

    public func isNull(at index: Int32) -> Bool {
        handle.map { sqlite3_column_type($0, index) == SQLITE_NULL } ?? true
    }

    public func int64(at index: Int32) -> Int64 {
        handle.map { sqlite3_column_int64($0, index) } ?? 0
    }

    public func int(at index: Int32) -> Int { Int(int64(at: index)) }

    public func bool(at index: Int32) -> Bool { int64(at: index) != 0 }

    public func double(at index: Int32) -> Double {
        handle.map { sqlite3_column_double($0, index) } ?? 0
    }

    public func string(at index: Int32) -> String {
        guard let handle, let text = sqlite3_column_text(handle, index) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func data(at index: Int32) -> Data {
        guard let handle else { return Data() }
        let count = Int(sqlite3_column_bytes(handle, index))
        guard count > 0, let bytes = sqlite3_column_blob(handle, index) else { return Data() }
        return Data(bytes: bytes, count: count)
    }

    public func optionalInt64(at index: Int32) -> Int64? { isNull(at: index) ? nil : int64(at: index) }
    public func optionalInt(at index: Int32) -> Int? { isNull(at: index) ? nil : int(at: index) }
    public func optionalDouble(at index: Int32) -> Double? { isNull(at: index) ? nil : double(at: index) }
    public func optionalString(at index: Int32) -> String? { isNull(at: index) ? nil : string(at: index) }
    public func optionalData(at index: Int32) -> Data? { isNull(at: index) ? nil : data(at: index) }

    /// The column's value in its storage class.
    public func value(at index: Int32) -> SQLValue {
        switch handle.map({ sqlite3_column_type($0, index) }) ?? SQLITE_NULL {
        case SQLITE_INTEGER: .integer(int64(at: index))
        case SQLITE_FLOAT: .real(double(at: index))
        case SQLITE_TEXT: .text(string(at: index))
        case SQLITE_BLOB: .blob(data(at: index))
        default: .null
        }
    }
}
