import Foundation
import Store

/// A fresh directory under the system temporary directory, removed when the test is done with it.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// A path inside the directory (intermediate folders are not created).
    func path(_ relative: String = "tsee.db") -> String {
        url.appendingPathComponent(relative).path
    }
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

/// A fixed clock for deterministic `created_at` and `updated_at`.
let fixedClock: @Sendable () -> Int64 = { 1_700_000_000 }

func intent(
    _ rule: String = "low-battery", tuid: String = "TSPD04ESY93100802", sequence: Int64 = 1, index: Int = 0,
    kind: ActionKind = .move, parameters: String = #"{"status":"quarantine"}"#, dryRun: Bool = false,
    time: Int64 = 1_000, transactionID: Int64? = nil
) -> ActionIntent {
    ActionIntent(
        time: time, rule: rule, tuid: tuid, sequence: sequence, actionIndex: index, kind: kind,
        parameters: parameters, dryRun: dryRun, transactionID: transactionID)
}

extension Database {
    func count(_ table: String) throws -> Int {
        try query("SELECT count(*) FROM \(table)") { $0.int(at: 0) }[0]
    }
}
