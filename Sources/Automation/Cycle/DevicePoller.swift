import Rules
import ThingseeAPI

/// Fetches what the rules need for one device and folds it into the device's snapshot: new messages since the
/// cursor (with the de-duplication window) and, when needed and stale, alerts, installation status and thing info.
/// Shared by the scheduler and by `rules eval|explain`, so that both see a device the same way.
struct DevicePoller: Sendable {
    let client: ThingseeClient
    let apiTime: any APITime
    let lookback: Int64
    /// Each fetch re-reads this many seconds before the cursor, for late, out-of-order messages.
    let overlap: Int64
    let pageSize: Int
    /// Slowly changing facts older than this are fetched again; `nil` fetches them every time.
    let refresh: Int64?

    init(client: ThingseeClient, apiTime: any APITime, options: SchedulerOptions, refreshes: Bool = true) {
        self.client = client
        self.apiTime = apiTime
        self.lookback = options.lookback
        self.overlap = options.overlap
        self.pageSize = options.pageSize
        self.refresh = refreshes ? options.refresh : nil
    }

    /// What the rules that apply to a device need fetched.
    static func needs(of engine: Engine, tuid: String, group: String?) -> RuleNeeds {
        var needs = RuleNeeds()
        for rule in engine.rules where rule.mode != .off && rule.isInScope(tuid: tuid, group: group) != false {
            needs.usesAlerts = needs.usesAlerts || rule.needs.usesAlerts
            // A `move to` alone needs no status up front: the current status is read just before moving.
            needs.usesStatus = needs.usesStatus || rule.needs.readsStatus
            needs.usesThingInfo = needs.usesThingInfo || rule.needs.usesThingInfo
            needs.usesFirmware = needs.usesFirmware || rule.needs.usesFirmware
            needs.usesSilence = needs.usesSilence || rule.needs.usesSilence
        }
        return needs
    }

    /// Fetches and returns the messages not seen before, updating `snapshot`'s facts, cursor and window.
    /// On a failure it throws; the caller then keeps its snapshot from before the poll.
    /// - Parameter alerting: the devices with an open alert, from the fleet-wide call; nil when unknown (then each
    ///   device's alerts are read). A device not in it has no open alert and costs no request.
    /// - Parameter messages: false while the data integration stream brings the messages: the facts are still
    ///   fetched on their own schedule, the messages are not.
    /// - Parameter lazyStatus: a due installation status is not fetched here; `Poll.statusDue` says so, and the
    ///   caller evaluates without it first (`fetchStatus` when that evaluation needs it).
    func poll(
        _ tuid: String, needs: RuleNeeds, alerting: Set<String>? = nil, messages: Bool = true,
        lazyStatus: Bool = false, into snapshot: inout DeviceSnapshot
    ) async throws -> Poll {
        let start = apiTime.now()
        let from = snapshot.admissionFloor(overlap: overlap) ?? (start - lookback)
        let batch =
            messages
            ? try await client.allMessagesCounted(tuid, from: from, pageSize: pageSize)
            : MessageBatch(messages: [], skipped: 0, pages: 0)
        // Admitted on a copy and adopted only at the end: a failure below leaves the caller's snapshot as it was.
        var admitted = snapshot
        let fresh = admitted.admit(batch.messages, overlap: overlap).fresh
        let now = apiTime.now()
        if snapshot.observations.firstListedAt == nil { snapshot.observations.firstListedAt = start }
        if needs.usesAlerts, let alerting, !alerting.contains(tuid) {
            // Closed episodes do not matter to `alert "X"`, which is true only while one is open.
            snapshot.observations.alerts = snapshot.observations.alerts?.filter { $0.to != nil } ?? []
        } else if needs.usesAlerts, alerting != nil || isStale(snapshot.alertsFetchedAt, now: now) {
            let records = try await client.alerts(tuid, from: now - lookback, to: now)
            snapshot.observations.alerts = MessageConversion.episodes(records)
            snapshot.alertsFetchedAt = recordedFetch(at: now, previous: snapshot.alertsFetchedAt, tuid: tuid)
        }
        let statusDue = isStatusDue(needs: needs, snapshot, now: now)
        if statusDue && !lazyStatus { try await fetchStatus(tuid, into: &snapshot) }
        // For `battery` alone, thing info is only the fallback when no `batl` was ever reported: skip the
        // request for a device that reports one (most do, hourly), saving a request per device and refresh.
        let batteryKnown =
            snapshot.observations.latest("batl") != nil
            || fresh.contains { $0.property("batl")?.doubleValue != nil }
        // `silence` of a device with no message since the look-back is measured from thing info's last report.
        let neverHeard = needs.usesSilence && snapshot.cursor == nil && fresh.isEmpty
        if (needs.usesThingInfo && (needs.usesFirmware || !batteryKnown)) || neverHeard,
            isStale(snapshot.thingFetchedAt, now: now)
        {
            let thing = try await client.thing(tuid)
            snapshot.observations.firmware = thing.version
            snapshot.observations.batteryLevel = thing.batteryLevel
            if let last = thing.timestamp { snapshot.observations.lastReportAt = last }
            snapshot.thingFetchedAt = recordedFetch(at: now, previous: snapshot.thingFetchedAt, tuid: tuid)
        }

        snapshot.cursor = admitted.cursor
        snapshot.recentKeys = admitted.recentKeys
        return Poll(messages: fresh, skipped: batch.skipped, statusDue: statusDue && lazyStatus)
    }

    /// Whether the rules need the installation status and the one held is missing or older than `refresh`.
    func isStatusDue(needs: RuleNeeds, _ snapshot: DeviceSnapshot, now: Int64) -> Bool {
        needs.usesStatus && isStale(snapshot.statusFetchedAt, now: now)
    }

    /// Reads the device's current installation status (one request, `limit=1`) into `snapshot`.
    func fetchStatus(_ tuid: String, into snapshot: inout DeviceSnapshot) async throws {
        let now = apiTime.now()
        snapshot.observations.status = try await client.installations(tuid, limit: 1).first?.installationStatus
        snapshot.statusFetchedAt = recordedFetch(at: now, previous: snapshot.statusFetchedAt, tuid: tuid)
    }

    private func isStale(_ at: Int64?, now: Int64) -> Bool {
        guard let refresh, let at else { return true }
        return now - at >= refresh
    }

    /// The time to record for a fetch made at `now`. A device's first fetch is back-dated by a fraction of
    /// `refresh` that depends on the device, so that later refreshes spread evenly over the refresh window instead
    /// of all falling due in the same cycle.
    private func recordedFetch(at now: Int64, previous: Int64?, tuid: String) -> Int64 {
        guard previous == nil, let refresh, refresh > 1 else { return now }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike `hashValue`
        for byte in tuid.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return now - Int64(hash % UInt64(refresh))
    }
}

/// What one poll brought: the messages not seen before, and how many unusable items the pages held.
struct Poll: Sendable {
    var messages: [ThingseeAPI.Message]
    var skipped: Int
    /// The installation status is due but was left to the caller (`lazyStatus`).
    var statusDue = false
}
