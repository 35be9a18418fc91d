/// `GET /things/{tuid}/messages` and `GET /things/{tuid}`: messages computed on demand.
extension Fleet {
    /// The filters of a messages request.
    struct MessageQuery: Sendable {
        var limit: Int
        var messageIDs: Set<Int>? = nil
        var eventIDs: Set<Int>? = nil
        var from: Double? = nil
        var to: Double? = nil
    }

    struct Message: Sendable {
        let tsmID: Int
        let tsmEv: Int
        let time: Double
        let gateway: String
        let fields: [(String, JSON)]
    }

    /// An item a client cannot use, as real pages carry them now and then.
    enum BadItem: CaseIterable, Sendable {
        /// The message without its `tsmTuid`.
        case withoutTUID
        /// An outgoing command row: `tsmDstTuid`, no `tsmTuid`.
        case outgoingCommand
        /// A network-down event (`tsmEv` 18) without `tsmTs`.
        case networkDownWithoutTime
    }

    static let defaultWindow = 7.0 * 86_400
    static let batteryInterval = 3_600.0

    /// The messages matching the query, newest first, none later than `now`, at most `limit` (and `pageCap`).
    ///
    /// A message sent while its device's gateway connection is lost is not delivered until the episode ends; it
    /// then appears with its own `tsmTs`.
    func messages(tuid: String, query: MessageQuery, now: Double) throws -> [Message] {
        messages(index: try deviceIndex(tuid), query: query, now: now)
    }

    /// The same for the device at `index`, already looked up.
    func messages(index: Int, query: MessageQuery, now: Double) -> [Message] {
        let device = devices[index]
        let state = states[index]
        let limit = pageCap > 0 ? min(query.limit, pageCap) : query.limit
        let upper = min(query.to ?? now, now)
        let lower = max(query.from ?? upper - Self.defaultWindow, device.installedAt)
        guard lower <= upper, limit > 0 else { return [] }
        let withheld = openEpisodes(device, at: now)
        let delivered = { (time: Double) in !withheld.contains { $0.from <= time && time < $0.to } }
        let wantsPeriodic = query.eventIDs?.contains(10) ?? true
        var found: [Message] = []

        let periodicIDs = wantsPeriodic ? device.model.reportIDs.filter { query.messageIDs?.contains($0) ?? true } : []
        if !periodicIDs.isEmpty {
            let times = reportTimes(device, state, from: lower, to: upper, limit: limit, delivered: delivered)
            for (time, interval) in times {
                let gateway = gatewayTUID(device, time)
                for id in periodicIDs {
                    found.append(
                        Message(
                            tsmID: id, tsmEv: 10, time: time, gateway: gateway,
                            fields: reportFields(id, device, time, interval: interval)))
                }
            }
        }
        if wantsPeriodic, query.messageIDs?.contains(1110) ?? true {
            var k = ((upper - device.batteryPhase) / Self.batteryInterval).rounded(.down)
            var taken = 0
            while taken < limit {
                let time = device.batteryPhase + k * Self.batteryInterval
                guard time >= lower else { break }
                k -= 1
                guard delivered(time) else { continue }
                taken += 1
                found.append(
                    Message(
                        tsmID: 1110, tsmEv: 10, time: time, gateway: gatewayTUID(device, time),
                        fields: reportFields(1110, device, time, interval: Self.batteryInterval)))
            }
        }
        if query.eventIDs?.contains(31) ?? true {
            for record in state.commands
            where record.echoAt >= lower && record.echoAt <= upper && delivered(record.echoAt)
                && (query.messageIDs?.contains(record.tsmID) ?? true)
            {
                found.append(
                    Message(
                        tsmID: record.tsmID, tsmEv: 31, time: record.echoAt,
                        gateway: gatewayTUID(device, record.echoAt),
                        fields: (record.transactionID.map { [("transactionId", JSON.int($0))] } ?? [])
                            + record.echoValues.map { ($0.0, .int($0.1)) }))
            }
        }
        found.sort { a, b in
            if a.time != b.time { return a.time > b.time }
            if a.tsmID != b.tsmID { return a.tsmID < b.tsmID }
            return a.tsmEv < b.tsmEv
        }
        return Array(found.prefix(limit))
    }

    /// The messages as the API returns them, header fields first.
    func messagesJSON(tuid: String, query: MessageQuery, now: Double) throws -> JSON {
        try messagePage(tuid: tuid, query: query, now: now).page
    }

    /// The page as the API returns it, with the unusable items `badItemRate` mixes in after their messages
    /// (they count towards `limit` and `pageCap` like any item), and how many of those it holds.
    func messagePage(tuid: String, query: MessageQuery, now: Double) throws -> (page: JSON, badItems: Int) {
        let index = try deviceIndex(tuid)
        let group = states[index].group ?? Self.unassigned
        let limit = pageCap > 0 ? min(query.limit, pageCap) : query.limit
        let messages = messages(index: index, query: query, now: now)
        // Written straight into bytes: the hot path of every poller.
        var out = JSONWriter(capacity: 64 + messages.count * 200)
        var items = 0
        var bad = 0
        out.beginArray()
        for message in messages {
            guard items < limit else { break }
            items += 1
            out.beginObject()
            writeHeader(message, tuid: tuid, group: group, to: &out)
            for (name, value) in message.fields { out.field(name, value) }
            out.endObject()
            guard badItemRate > 0, items < limit, let kind = badItem(after: message, device: index) else { continue }
            items += 1
            bad += 1
            out.beginObject()
            switch kind {
            case .withoutTUID:
                writeHeader(message, tuid: nil, group: group, to: &out)
                for (name, value) in message.fields { out.field(name, value) }
            case .outgoingCommand:
                out.field(fixed: "tsmId", 1500)
                out.field(fixed: "tsmEv", 30)
                out.field(fixed: "tsmTs", Int(message.time))
                out.field(fixed: "tsmDstTuid", tuid)
                out.field(fixed: "deploymentGroupId", group)
                out.field(fixed: "measurementInterval", 60)
                out.field(fixed: "reportInterval", 600)
            case .networkDownWithoutTime:
                out.field(fixed: "tsmId", message.tsmID)
                out.field(fixed: "tsmEv", 18)
                out.field(fixed: "tsmTuid", tuid)
                out.field(fixed: "tsmGw", message.gateway)
                out.field(fixed: "deploymentGroupId", group)
            }
            out.endObject()
        }
        out.endArray()
        return (.raw(out.bytes), bad)
    }

    /// The header fields, in the API's order; `tuid` nil leaves `tsmTuid` out.
    func writeHeader(_ message: Message, tuid: String?, group: String, to out: inout JSONWriter) {
        out.field(fixed: "tsmId", message.tsmID)
        out.field(fixed: "tsmEv", message.tsmEv)
        out.field(fixed: "tsmTs", Int(message.time))
        if let tuid { out.field(fixed: "tsmTuid", tuid) }
        out.field(fixed: "tsmGw", message.gateway)
        out.field(fixed: "deploymentGroupId", group)
    }

    /// Whether an unusable item follows this message, and which: fixed by the seed, the device and the message.
    private func badItem(after message: Message, device index: Int) -> BadItem? {
        let roll = SplitMix64.hash(seed, UInt64(index), Labels.bad, message.time.key, UInt64(message.tsmID))
        guard Double(roll >> 11) / Double(1 << 53) < badItemRate else { return nil }
        let kinds = BadItem.allCases
        return kinds[Int(SplitMix64.mix(roll) % UInt64(kinds.count))]
    }

    /// Report times in `from…to`, newest first, at most `limit` of those `delivered` accepts, with the cadence
    /// in force at each.
    func reportTimes(
        _ device: Device, _ state: DeviceState, from: Double, to: Double, limit: Int,
        delivered: (Double) -> Bool = { _ in true }
    ) -> [(Double, Double)] {
        var times: [(Double, Double)] = []
        var segmentEnd = Double.infinity
        for segment in state.segments.reversed() {
            defer { segmentEnd = segment.start }
            let high = min(to, segmentEnd - 0.5)
            let low = max(from, segment.start)
            guard high >= low else { continue }
            var k = ((high - segment.anchor) / segment.interval).rounded(.down)
            while times.count < limit {
                let time = segment.anchor + k * segment.interval
                guard time >= low else { break }
                k -= 1
                if delivered(time) {
                    times.append((time, segment.interval))
                }
            }
            if times.count >= limit { break }
        }
        return times
    }

    /// The gateway a message went through: usually the cluster's own, sometimes a neighbour's (the mesh re-routes).
    func gatewayTUID(_ device: Device, _ time: Double) -> String {
        guard device.model != .gateway else { return device.tuid }
        var gateway = device.gateway
        if noise(device, key: Labels.reroute, time) < 0.05 {
            let neighbour = gateway + clusterSize
            gateway = neighbour < devices.count ? neighbour : max(0, gateway - clusterSize)
        }
        return devices[gateway].tuid
    }

    /// `GET /things/{tuid}`: battery, time of the newest message, location, gateway and firmware.
    func thingInfo(tuid: String, now: Double) throws -> JSON {
        let device = devices[try deviceIndex(tuid)]
        let latest = try messages(tuid: tuid, query: MessageQuery(limit: 1), now: now).first?.time
        return .object([
            ("battery_level", .int(Int(battery(device, now).rounded()))),
            ("timestamp", .int(Int(latest ?? device.installedAt))),
            ("location", .object([("lat", .double(device.latitude)), ("lon", .double(device.longitude))])),
            ("gateway_tuid", .string(devices[device.gateway].tuid)),
            ("version", .string(device.version)),
        ])
    }
}
