/// What a rule needs fetched, so a scheduler asks the API only for that.
public struct RuleNeeds: Sendable, Hashable {
    /// `alert "X"` conditions: fetch alerts.
    public var usesAlerts = false
    /// A `status` condition or a `move to` action: fetch the installation status.
    public var usesStatus = false
    /// A `status` condition or `{status}` placeholder: the status is needed to evaluate, not only to act.
    public var readsStatus = false
    /// A `group` condition or an `in group` scope: know the device's group.
    public var usesGroup = false
    /// `firmware` or `battery` (falls back to thing info `battery_level`): fetch thing info.
    public var usesThingInfo = false
    /// `firmware`: thing info is needed even for a device whose `batl` is known.
    public var usesFirmware = false
    /// `silence`: for a device with no message in the look-back, `silence` counts from
    /// `DeviceObservations.lastReportAt` (thing info `timestamp`), else `firstListedAt`: the caller fills them in.
    public var usesSilence = false
    /// `notify` actions.
    public var usesNotify = false
    /// Message properties read by conditions and `log` placeholders, sorted.
    public var messageFields: [String] = []
    /// Alert types tested, sorted.
    public var alertTypes: [String] = []
    /// The longest window or `for` duration: how much history a first fetch should bring.
    public var longestWindow: Int64 = 0

    public init() {}

    mutating func formUnion(_ other: RuleNeeds) {
        usesAlerts = usesAlerts || other.usesAlerts
        usesStatus = usesStatus || other.usesStatus
        readsStatus = readsStatus || other.readsStatus
        usesGroup = usesGroup || other.usesGroup
        usesThingInfo = usesThingInfo || other.usesThingInfo
        usesFirmware = usesFirmware || other.usesFirmware
        usesSilence = usesSilence || other.usesSilence
        usesNotify = usesNotify || other.usesNotify
        messageFields = Array(Set(messageFields + other.messageFields)).sorted()
        alertTypes = Array(Set(alertTypes + other.alertTypes)).sorted()
        longestWindow = max(longestWindow, other.longestWindow)
    }
}

/// A rule ready to evaluate: conditions compiled, field names resolved to slots.
public struct CompiledRule: Sendable {
    public let syntax: RuleSyntax
    public var name: String { syntax.name }
    public var location: SourceLocation { syntax.location }
    /// `in group` ids; with `tuids` empty too, the rule applies to every device.
    public var groups: [String] { syntax.groups }
    /// `on` TUIDs.
    public var tuids: [String] { syntax.tuids }
    public var mode: RuleMode { syntax.mode }
    public var hold: Hold? { syntax.hold }
    public var severity: Severity? { syntax.severity }
    public let needs: RuleNeeds

    let condition: Program
    let clear: Program?
    /// Slots of the message fields the conditions read.
    let slots: [Int]
    /// Device times at which a `silence` test may flip, relative to the newest message.
    let silenceOffsets: [Int64]
    let usesSilence: Bool
    let usesAlerts: Bool
    let actions: [CompiledAction]
    let resolveActions: [CompiledAction]

    enum CompiledAction: Sendable {
        case fixed(Action)
        case log([LogSegment])
    }

    enum LogSegment: Sendable, Equatable {
        case text(String)
        case slot(Int)
        case tuid, rule, battery, status, group, firmware, silence, model, kind, severity
        case unknown
    }

    /// Whether the rule applies to a device: nil when that depends on a group that is not known.
    public func isInScope(tuid: String, group: String?) -> Bool? {
        if groups.isEmpty && tuids.isEmpty { return true }
        if tuids.contains(tuid) { return true }
        if groups.isEmpty { return false }
        guard let group else { return nil }
        return groups.contains(group)
    }
}
