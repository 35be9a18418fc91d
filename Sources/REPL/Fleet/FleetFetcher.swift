import ThingseeAPI

/// Fetches facts about many devices at once: each device's requests one after another, up to `concurrency`
/// devices at a time, and only the requests the asked-for facts need.
struct FleetFetcher: Sendable {
    let client: ThingseeClient
    /// How far back messages and alerts are read (as `tsee run`'s default `--lookback`).
    var lookback: Int64 = 24 * 3600
    var concurrency = 16

    /// A device's result: its facts, or why they could not be read.
    struct Outcome: Sendable {
        var facts: DeviceFacts
        var error: (any Error)?
    }

    /// Fetches `wanted` for each device; `fields` are the message fields `--where` reads (a message that lacks
    /// one of them makes the whole look-back of its message id be read).
    func fetch(
        _ devices: [DeviceFacts], wanted: Set<FleetFact>, fields: Set<String> = [], progress: ProgressBar?
    ) async throws -> [Outcome] {
        let now = client.serverNow()
        let results = await concurrentMap(devices, limit: concurrency) { device in
            var facts = device
            do {
                try await fetch(wanted, into: &facts, fields: fields, now: now)
                progress?.advance()
                return Outcome(facts: facts, error: nil)
            } catch {
                progress?.advance()
                return Outcome(facts: facts, error: error)
            }
        }
        try Task.checkCancellation()
        return results
    }

    private func fetch(_ wanted: Set<FleetFact>, into device: inout DeviceFacts, fields: Set<String>, now: Int64)
        async throws
    {
        let tuid = device.tuid
        // Messages first: a device that reported `batl` needs no thing info for its battery.
        let messageFacts = wanted.filter { if case .messages = $0 { true } else { false } }
        for fact in messageFacts.sorted(by: { "\($0)" < "\($1)" }) where !device.fetched.contains(fact) {
            guard case .messages(let id) = fact else { continue }
            var read: [Message]
            if let id {
                read = try await client.messages(tuid, MessageQuery(limit: 1, messageIDs: [id], from: now - lookback))
                let needed = fields.filter { WhereExpression.messageID[$0] == id }
                if let newest = read.first, !needed.allSatisfy({ newest.property($0) != nil }) {
                    read = try await client.allMessages(tuid, from: now - lookback, messageIDs: [id])
                }
            } else {
                read = try await client.allMessages(tuid, from: now - lookback)
            }
            device.messages = (device.messages + read).sorted { $0.tsmTs < $1.tsmTs }
            device.fetched.insert(fact)
        }
        var needsThing = wanted.contains(.thing)
        if wanted.contains(.batteryFallback), device.battery == nil { needsThing = true }
        if needsThing, !device.fetched.contains(.thing) {
            let info = try await client.thing(tuid)
            device.batteryLevel = info.batteryLevel
            device.lastSeen = info.timestamp
            device.firmware = info.version
            device.gateway = info.gatewayTUID
            device.fetched.insert(.thing)
        }
        if wanted.contains(.status), !device.fetched.contains(.status) {
            device.status = try await client.installations(tuid, limit: 1).first?.installationStatus
            device.fetched.insert(.status)
        }
        if wanted.contains(.alerts), !device.fetched.contains(.alerts) {
            let records = try await client.alerts(tuid, from: now - lookback, to: now)
            device.alerts = records.flatMap { r in r.episodes.map { (r.alertType, $0.from, $0.to) } }
            device.fetched.insert(.alerts)
        }
        if wanted.contains(.group), device.group == nil {
            device.group = try await client.groupOf(tuid)
        }
    }

    /// Every device of `groups` (all groups and `unassigned` when empty), each with its group, in group order.
    func devices(inGroups groups: [String]) async throws -> [DeviceFacts] {
        var ids = groups
        if ids.isEmpty {
            ids = try await client.groups().map(\.groupId).sorted() + ["unassigned"]
        }
        let lists = await concurrentMap(ids, limit: concurrency) { id -> Result<[String], any Error> in
            do { return .success(try await client.groupThings(id).tuids) } catch { return .failure(error) }
        }
        try Task.checkCancellation()
        var seen = Set<String>()
        var devices: [DeviceFacts] = []
        for (id, list) in zip(ids, lists) {
            for tuid in try list.get() where seen.insert(tuid).inserted {
                devices.append(DeviceFacts(tuid: tuid, group: id))
            }
        }
        return devices
    }
}
