import Foundation
import Store
import Synchronization
import Testing
import TestSupport

/// The two stores the shared tests run on.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// A fresh, empty database of one backend, with raw access for what the typed API cannot show (a refused DELETE).
///
/// `@unchecked Sendable`: every property is set in `init` and never changed; the temporary directory is only
/// removed when the last reference goes.
final class TestDatabase: @unchecked Sendable {
    let backend: Backend
    let location: StoreLocation
    let password: String?
    private let directory: TemporaryDirectory?

    init(_ backend: Backend) throws {
        self.backend = backend
        switch backend {
        case .sqlite:
            let directory = try TemporaryDirectory()
            self.directory = directory
            location = .sqlite(path: directory.path())
            password = nil
        case .postgres:
            let server = try PostgresServer.shared()
            directory = nil
            location = try StoreLocation.parse(server.url(database: try server.makeDatabase()))
            password = server.password
        }
    }

    /// A store on this database (each call opens another connection, as another process would).
    func open(
        now: @escaping @Sendable () -> Int64 = SQLiteStore.systemClock, leaseClock: LeaseClock? = nil
    ) async throws -> any Store {
        let injected: (@Sendable () -> Int64)? = leaseClock.map { clock in { @Sendable in clock.now } }
        switch location {
        case .sqlite(let path):
            return try SQLiteStore(path: path, now: injected ?? now)
        case .postgres(let url):
            return try await PostgresStore.open(url, password: password, now: now, leaseClock: injected)
        }
    }

    /// A PostgreSQL store, for what only it has (leases across processes).
    func openPostgres(leaseClock: LeaseClock) async throws -> PostgresStore {
        guard case .postgres(let url) = location else { throw BrokerError("not a PostgreSQL database") }
        return try await PostgresStore.open(url, password: password, leaseClock: { leaseClock.now })
    }

    /// Runs raw SQL past the typed API, as an operator with a SQL shell would.
    func execute(_ sql: String) async throws {
        switch location {
        case .sqlite(let path):
            try Database(path: path).execute(sql)
        case .postgres(let url):
            let store = try await PostgresStore.open(url, password: password)
            do {
                try await store.execute(unsafeSQL: sql)
            } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
    }

    func count(_ table: String) async throws -> Int {
        switch location {
        case .sqlite(let path):
            return try Database(path: path).count(table)
        case .postgres(let url):
            let store = try await PostgresStore.open(url, password: password)
            let rows = try await store.execute(unsafeSQL: "SELECT count(*) FROM \(table)")
            await store.close()
            return Int(rows.first.flatMap { $0 } ?? -1)
        }
    }
}

/// A lease clock the test moves by hand (Unix seconds).
final class LeaseClock: Sendable {
    private let seconds: Mutex<Int64>

    init(_ start: Int64 = 1_700_000_000) { seconds = Mutex(start) }

    var now: Int64 { seconds.withLock { $0 } }

    func advance(by delta: Int64) { seconds.withLock { $0 += delta } }
}
