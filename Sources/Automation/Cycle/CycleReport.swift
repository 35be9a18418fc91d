/// What one scheduler cycle did; one line of it goes to stderr per cycle.
public struct CycleReport: Sendable, Equatable {
    public var number = 0
    public var dryRun = false
    public var devices = 0
    public var newMessages = 0
    /// Of `newMessages`: those a poll brought, and those the stream brought (in the steps since the last cycle).
    public var pollMessages = 0
    public var streamMessages = 0
    /// With `--mqtt`: `live` (messages from the stream, not polled), `backfilling` (this cycle polled the gap of a
    /// new connection) or `down` (polling until it is back); nil without a stream.
    public var stream: String?
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
    /// Intents left open earlier that this cycle settled (found applied, or carried out).
    public var reconciled = 0
    /// Writes whose answer was lost (5xx, timeout, dropped connection): left open, reconciled next cycle.
    public var outcomeUnknown = 0
    /// With leases: actions not carried out because this process's lease might have run out by the time they would
    /// reach the API (see `Scheduler.leaseAllowsActing()`); left open for the device's owner to reconcile.
    public var heldBack = 0
    /// Unusable items in message pages (no `tsmTuid`, outgoing command rows, `tsmEv` 18 without `tsmTs`): skipped.
    public var skippedItems = 0
    /// The watchdog abandoned the cycle: nothing progressed for `stallTimeout`.
    public var stalled = false
    /// No device could be polled: the device list could not be fetched, or every poll failed.
    public var nothingPolled = false
    /// In a dry run: the actions that would have been carried out.
    public var wouldBe: [WouldBeAction] = []

    public init() {}

    /// Adds what part of a cycle did.
    mutating func merge(_ part: CycleReport) {
        devices += part.devices
        errors += part.errors
        reconciled += part.reconciled
        authenticationFailed = authenticationFailed || part.authenticationFailed
        nothingPolled = nothingPolled || part.nothingPolled
    }

    /// Adds what the stream's steps did since the previous cycle.
    mutating func include(_ steps: CycleReport) {
        newMessages += steps.newMessages
        pollMessages += steps.pollMessages
        streamMessages += steps.streamMessages
        firings += steps.firings
        actions += steps.actions
        confirmed += steps.confirmed
        outcomeUnknown += steps.outcomeUnknown
        heldBack += steps.heldBack
        errors += steps.errors
        wouldBe += steps.wouldBe
    }

    public var line: String {
        let mode = dryRun ? " (dry run)" : ""
        let sources = stream.map { " (\(pollMessages) poll, \(streamMessages) stream; stream \($0))" } ?? ""
        return "cycle \(number)\(mode): \(devices) devices, \(newMessages) new messages\(sources), \(firings) firings, "
            + "\(actions) actions, \(confirmed) confirmed, \(errors) errors, \(requests) requests, "
            + (skippedItems > 0 ? "\(skippedItems) unusable items skipped, " : "")
            + String(format: "%.2f s", seconds)
    }
}

/// An action a dry run (or a `mode shadow` rule) would have carried out.
public struct WouldBeAction: Sendable, Equatable {
    public var rule: String
    public var tuid: String
    /// The action in rule syntax, e.g. `move to quarantine`.
    public var action: String
}
