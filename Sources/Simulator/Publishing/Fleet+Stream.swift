import Stream

/// One device message as the data integration publishes it.
public struct FleetStreamMessage: Sendable, Equatable {
    /// Simulated Unix seconds the message happens at (its `tsmTs`, or an echo's time).
    public let time: Double
    /// `cloudext/json/{env}/{country}/{group}/{tuid}/{tsmId}`.
    public let topic: String
    /// One JSON object, the same fields in the same order as in `GET /things/{tuid}/messages`.
    public let payload: [UInt8]
}

extension Fleet {
    /// Every message of every device that happens in `after` (exclusive) … `through` (inclusive), oldest
    /// first: periodic reports, battery reports and command echoes (`tsmEv` 31), each on the topic of the
    /// device's current group. Computed like the REST history, so a client reading both sees the same messages.
    public func streamMessages(after: Double, through: Double) -> [FleetStreamMessage] {
        guard through > after else { return [] }
        var found: [(time: Double, device: Int, id: Int, message: FleetStreamMessage)] = []
        // The window is short (one publishing tick), so this limit is never what ends it.
        let query = MessageQuery(limit: 100_000, from: after.nextUp, to: through)
        for (index, device) in devices.enumerated() {
            guard case .array(let items)? = try? messagesJSON(tuid: device.tuid, query: query, now: through) else {
                continue
            }
            let group = states[index].group ?? Self.unassigned
            for item in items {
                guard let id = item["tsmId"]?.number, let time = item["tsmTs"]?.number else { continue }
                let topic = StreamTopic.forMessage(groupID: group, tuid: device.tuid, tsmId: Int(id))
                found.append(
                    (
                        time, index, Int(id),
                        FleetStreamMessage(time: time, topic: topic.name, payload: [UInt8](item.encoded()))
                    ))
            }
        }
        found.sort { ($0.time, $0.device, $0.id) < ($1.time, $1.device, $1.id) }
        return found.map(\.message)
    }
}
