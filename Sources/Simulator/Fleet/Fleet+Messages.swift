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

    static let defaultWindow = 7.0 * 86_400
    static let batteryInterval = 3_600.0

    /// The messages matching the query, newest first, none later than `now`.
    func messages(tuid: String, query: MessageQuery, now: Double) throws -> [Message] {
        let index = try deviceIndex(tuid)
        let device = devices[index]
        let state = states[index]
        let upper = min(query.to ?? now, now)
        let lower = max(query.from ?? upper - Self.defaultWindow, device.installedAt)
        guard lower <= upper, query.limit > 0 else { return [] }
        let wantsPeriodic = query.eventIDs?.contains(10) ?? true
        var found: [Message] = []

        let periodicIDs = wantsPeriodic ? device.model.reportIDs.filter { query.messageIDs?.contains($0) ?? true } : []
        if !periodicIDs.isEmpty {
            for (time, interval) in reportTimes(device, state, from: lower, to: upper, limit: query.limit) {
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
            while taken < query.limit {
                let time = device.batteryPhase + k * Self.batteryInterval
                guard time >= lower else { break }
                k -= 1
                guard isConnected(device, time) else { continue }
                taken += 1
                found.append(
                    Message(
                        tsmID: 1110, tsmEv: 10, time: time, gateway: gatewayTUID(device, time),
                        fields: reportFields(1110, device, time, interval: Self.batteryInterval)))
            }
        }
        if query.eventIDs?.contains(31) ?? true {
            for record in state.commands
            where record.echoAt >= lower && record.echoAt <= upper && (query.messageIDs?.contains(record.tsmID) ?? true)
            {
                found.append(
                    Message(
                        tsmID: record.tsmID, tsmEv: 31, time: record.echoAt,
                        gateway: gatewayTUID(device, record.echoAt),
                        fields: [("transactionId", .int(record.transactionID))]
                            + record.echoValues.map { ($0.0, .int($0.1)) }))
            }
        }
        found.sort { a, b in
            if a.time != b.time { return a.time > b.time }
            if a.tsmID != b.tsmID { return a.tsmID < b.tsmID }
            return a.tsmEv < b.tsmEv
        }
        return Array(found.prefix(query.limit))
    }

    /// The messages as the API returns them, header fields first.
    func messagesJSON(tuid: String, query: MessageQuery, now: Double) throws -> JSON {
        let group = group(of: tuid) ?? Self.unassigned
        return .array(
            try messages(tuid: tuid, query: query, now: now).map { message in
                .object(
                    [
                        ("tsmId", .int(message.tsmID)), ("tsmEv", .int(message.tsmEv)),
                        ("tsmTs", .int(Int(message.time))), ("tsmTuid", .string(tuid)),
                        ("tsmGw", .string(message.gateway)), ("deploymentGroupId", .string(group)),
                    ] + message.fields)
            })
    }

    /// Report times in `from…to`, newest first, at most `limit`, with the cadence in force at each.
    func reportTimes(_ device: Device, _ state: DeviceState, from: Double, to: Double, limit: Int) -> [(Double, Double)]
    {
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
                if isConnected(device, time) {
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
        if noise(device, "reroute", time) < 0.05 {
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
