/// The fixed description of one virtual device, derived from the seed and its index.
struct Device: Sendable {
    let index: Int
    let tuid: String
    let model: DeviceModel
    /// The group the device stands in (its cluster's); the current assignment lives in `DeviceState`.
    let profile: Int
    let initialGroup: String?
    /// Index of the gateway its cluster reports through (itself for a gateway).
    let gateway: Int
    let latitude: Double
    let longitude: Double
    let version: String
    /// When the device was installed: nothing is reported before.
    let installedAt: Double
    /// Battery at the fleet's origin and drain per simulated day, in %.
    let batteryAtOrigin: Double
    let drainPerDay: Double
    /// Offset of the hourly battery report, in seconds.
    let batteryPhase: Double
    /// Daily people-count volume, a container's fill time, etc.: one per-device scale factor.
    let scale: Double
    /// An alert episode open at the fleet's origin: (from, to), or nil.
    let openEpisode: (Double, Double)?
}

/// One stretch of constant report cadence: reports at `anchor + k·interval` within `start..<end`.
struct ScheduleSegment: Sendable, Equatable {
    var start: Double
    var anchor: Double
    var interval: Double
}

/// A command the device has received, kept for the command history and the echo.
struct CommandRecord: Sendable {
    let timestamp: Double
    let command: JSON
    let tsmID: Int
    /// nil when the command was sent without one; the echo then has none either.
    let transactionID: Int?
    /// When the device echoes it (`tsmEv` 31), and the config values it echoes, in order.
    let echoAt: Double
    let echoValues: [(String, Int)]
}

/// What changes about a device while the simulator runs.
struct DeviceState: Sendable {
    var group: String?
    var installations: [(status: String, timestamp: Double)]
    var commands: [CommandRecord] = []
    var segments: [ScheduleSegment]
    /// Current configuration per command id.
    var config: [Int: [(String, Int)]]
}
