import Foundation

/// How a scheduler shares its fleet with other `tsee run` processes on one database (`--db postgres://…`).
public struct LeaseSettings: Sendable, Equatable {
    /// Unique per process.
    public var owner: String
    /// How long a lease lasts unless renewed (`--lease`, default 3 × `--interval`); renewed every cycle.
    public var seconds: Int64
    public var host: String
    public var pid: Int

    public init(owner: String, seconds: Int64, host: String, pid: Int) {
        self.owner = owner
        self.seconds = seconds
        self.host = host
        self.pid = pid
    }

    /// This process: `HOST:PID:RANDOM` (the random part tells a restarted process from its predecessor with the same
    /// pid, say in a container).
    public static func thisProcess(seconds: Int64) -> LeaseSettings {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(getpid())
        let random = UUID().uuidString.prefix(8).lowercased()
        return LeaseSettings(owner: "\(host):\(pid):\(random)", seconds: seconds, host: host, pid: pid)
    }
}
