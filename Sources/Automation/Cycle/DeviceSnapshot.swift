import Rules

/// What the scheduler keeps per device between cycles and across restarts (the `devices.observations` column).
struct DeviceSnapshot: Codable, Equatable, Sendable {
    var observations = DeviceObservations()
    /// De-duplication keys of the messages seen within `overlap` of the cursor.
    var recentKeys: [String] = []
    /// The newest `tsmTs` seen: the next fetch starts `overlap` before it.
    var cursor: Int64?
    /// API clock times of the last successful fetch of each slowly changing fact.
    var alertsFetchedAt: Int64?
    var statusFetchedAt: Int64?
    var thingFetchedAt: Int64?
}
