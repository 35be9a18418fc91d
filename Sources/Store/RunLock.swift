import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The scheduler's exclusive claim on a database: one `tsee run` per SQLite file.
///
/// An advisory `flock(2)` on `DATABASE.lock` beside the database, holding the owner's pid as text. `flock` is used
/// rather than a POSIX record lock on the database file itself because SQLite takes POSIX locks on that file, and
/// closing any descriptor of a file drops every POSIX lock the process holds on it; a separate file and a BSD lock
/// cannot interfere with SQLite's. The kernel releases the lock when the process dies, kill -9 included, so a crash
/// never leaves a stale lock behind. Readers (`tsee log`, `rules explain`) never take it.
public final class RunLock: Sendable {
    /// The lock file's path.
    public let path: String
    private let descriptor: Int32

    /// The database is held by another process.
    public struct Held: Error, Sendable, CustomStringConvertible {
        public let path: String
        /// The holder's pid, as it wrote it (nil when unreadable).
        public let pid: Int32?
        public let waited: Duration

        public var description: String {
            let who = pid.map { "process \($0)" } ?? "another process"
            return "the database is in use by \(who) (lock \(path)); waited \(waited.components.seconds) s;"
                + " stop that `tsee run` first, or use another --db"
        }
    }

    /// Takes the lock for the database at `databasePath`, retrying every `poll` for up to `wait` on `clock`.
    ///
    /// - Throws: ``Held`` when another process still holds it after `wait`; ``StoreError`` when the lock file cannot
    ///   be opened.
    public static func acquire<C: Clock<Duration>>(
        databasePath: String, wait: Duration, poll: Duration = .milliseconds(100), clock: C
    ) async throws -> RunLock {
        let path = databasePath + ".lock"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw StoreError(
                kind: .fileSystem(errno: code), code: StoreError.Code.cantOpen,
                message: String(cString: strerror(code)), operation: "open the lock file \(path)")
        }
        let start = clock.now
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                let text = "\(getpid())\n"
                _ = ftruncate(fd, 0)
                _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
                return RunLock(path: path, descriptor: fd)
            }
            let waited = start.duration(to: clock.now)
            if waited >= wait || Task.isCancelled {
                let pid = holderPID(fd)
                close(fd)
                throw Held(path: path, pid: pid, waited: waited)
            }
            do {
                try await clock.sleep(for: min(poll, wait - waited))
            } catch {
                let pid = holderPID(fd)
                close(fd)
                throw Held(path: path, pid: pid, waited: waited)
            }
        }
    }

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // Closing the descriptor releases the lock. The pid is left in the file: it is only read while locked.
        close(descriptor)
    }

    private static func holderPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count - 1, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
