/// Which rows ``Store/actions(filter:)`` returns. Empty filter: every row, newest first.
public struct ActionFilter: Sendable, Hashable {
    public var rule: String?
    public var tuid: String?
    /// Only actions at or after this time (Unix seconds, the `time` column).
    public var since: Int64?
    /// At most this many rows (the newest, unless ``oldestFirst``).
    public var limit: Int?
    /// `true`: dry-run rows only; `false`: live rows only; nil: both.
    public var dryRun: Bool?
    /// Only sent commands whose echo has not arrived (confirm state `pending` or `unconfirmed`).
    public var unconfirmedOnly: Bool
    /// Oldest first instead of newest first.
    public var oldestFirst: Bool

    public init(
        rule: String? = nil, tuid: String? = nil, since: Int64? = nil, limit: Int? = nil, dryRun: Bool? = nil,
        unconfirmedOnly: Bool = false, oldestFirst: Bool = false
    ) {
        self.rule = rule
        self.tuid = tuid
        self.since = since
        self.limit = limit
        self.dryRun = dryRun
        self.unconfirmedOnly = unconfirmedOnly
        self.oldestFirst = oldestFirst
    }
}
