/// What one scheduler cycle did; one line of it goes to stderr per cycle.
public struct CycleReport: Sendable, Equatable {
    public var number = 0
    public var dryRun = false
    public var devices = 0
    public var newMessages = 0
    public var firings = 0
    public var actions = 0
    public var confirmed = 0
    public var errors = 0
    /// Devices whose poll failed: they were left unknown for this cycle.
    public var failedDevices = 0
    /// Whether an error was an authentication failure (the run cannot go on without credentials).
    public var authenticationFailed = false
    public var seconds = 0.0
    /// Requests sent during the cycle.
    public var requests = 0

    public init() {}

    public var line: String {
        let mode = dryRun ? " (dry run)" : ""
        return "cycle \(number)\(mode): \(devices) devices, \(newMessages) new messages, \(firings) firings, "
            + "\(actions) actions, \(confirmed) confirmed, \(errors) errors, \(requests) requests, "
            + String(format: "%.2f s", seconds)
    }
}
