import CSQLite3

/// One step of a schema's history. Step *n* of an array of migrations brings `PRAGMA user_version` to *n*.
public struct Migration: Sendable {
    public let description: String
    public let sql: String

    public init(_ description: String, sql: String) {
        self.description = description
        self.sql = sql
    }
}

extension Database {
    /// Applies the steps of `migrations` the database does not have yet, each in its own transaction.
    ///
    /// Safe when several connections open the same file at once: each step re-reads `user_version` under the write
    /// lock. Throws ``StoreError/Kind/schemaTooNew(found:supported:)`` when the file is newer than `migrations`.
    public func migrate(_ migrations: [Migration]) throws {
        let supported = migrations.count
        let found = try userVersion()
        if found > supported { throw Self.tooNew(path: path, found: found, supported: supported) }
        guard found < supported else { return }
        for (offset, migration) in migrations.enumerated() {
            let version = offset + 1
            try transaction {
                let current = try userVersion()
                if current > supported { throw Self.tooNew(path: path, found: current, supported: supported) }
                guard current < version else { return }
                do {
                    try execute(migration.sql)
                } catch let error as StoreError {
                    throw StoreError(
                        kind: error.kind, code: error.code, message: error.message,
                        operation: "migrate \(path) to schema version \(version) (\(migration.description))",
                        sql: error.sql)
                }
                try setUserVersion(version)
            }
        }
    }

    private static func tooNew(path: String, found: Int, supported: Int) -> StoreError {
        StoreError(
            kind: .schemaTooNew(found: found, supported: supported), code: SQLITE_ERROR,
            message: "the database has schema version \(found), but this tsee knows versions up to \(supported);"
                + " it was written by a newer tsee: upgrade tsee, or choose another file with --db",
            operation: "open \(path)")
    }
}
