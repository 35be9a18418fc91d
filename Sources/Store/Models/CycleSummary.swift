/// What one scheduler cycle did; written by ``Store/finishCycle(id:summary:)``.
public struct CycleSummary: Sendable, Hashable, Encodable {
    /// Unix seconds.
    public var finishedAt: Int64
    public var devices: Int
    public var messages: Int
    public var firings: Int
    public var actions: Int
    public var errors: Int
    public var durationMilliseconds: Int64

    public init(
        finishedAt: Int64, devices: Int = 0, messages: Int = 0, firings: Int = 0, actions: Int = 0, errors: Int = 0,
        durationMilliseconds: Int64 = 0
    ) {
        self.finishedAt = finishedAt
        self.devices = devices
        self.messages = messages
        self.firings = firings
        self.actions = actions
        self.errors = errors
        self.durationMilliseconds = durationMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case finishedAt = "finished_at"
        case devices, messages, firings, actions, errors
        case durationMilliseconds = "duration_ms"
    }
}
