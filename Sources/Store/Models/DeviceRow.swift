import Foundation

/// A device's message cursor and saved observation snapshot; dry-run rows are kept apart from live ones.
public struct DeviceRow: Sendable, Hashable {
    public var tuid: String
    public var dryRun: Bool
    /// The newest `tsmTs` already processed (Unix seconds); nil before the first fetch.
    public var cursorTs: Int64?
    /// Opaque to the store: the scheduler's encoding of the device's latest field values.
    public var observations: Data?
    /// Unix seconds, local clock. Nil when writing: the store sets it to now.
    public var updatedAt: Int64?

    public init(tuid: String, dryRun: Bool, cursorTs: Int64? = nil, observations: Data? = nil, updatedAt: Int64? = nil)
    {
        self.tuid = tuid
        self.dryRun = dryRun
        self.cursorTs = cursorTs
        self.observations = observations
        self.updatedAt = updatedAt
    }
}
