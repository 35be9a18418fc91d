import Stream

/// One device message as the data integration publishes it.
public struct FleetStreamMessage: Sendable, Equatable {
    /// Simulated Unix seconds the message happens at (its `tsmTs`, or an echo's time).
    public let time: Double
    /// Simulated Unix seconds it reaches the API and becomes visible over REST: `time`, or the end of the
    /// gateway-connection-lost episode that withheld it.
    public let arrival: Double
    /// `cloudext/json/{env}/{country}/{group}/{tuid}/{tsmId}`.
    public let topic: String
    /// One JSON object, the same fields in the same order as in `GET /things/{tuid}/messages`.
    public let payload: [UInt8]
}

extension Fleet {
    /// The longest a message is withheld: an episode lasts at most six hours.
    static let longestWithholding = 6 * 3_600.0

    /// When a message of the device with `tsmTs` `time` reaches the API: at `time`, or, sent while its gateway
    /// connection was lost, when the last episode holding it ends. From then on `GET …/messages` returns it.
    func arrival(of time: Double, device index: Int) -> Double {
        Self.arrival(of: time, episodes: episodes(devices[index], from: time, to: time))
    }

    private static func arrival(of time: Double, episodes: [Episode]) -> Double {
        episodes.reduce(time) { latest, episode in
            episode.from <= time && time < episode.to ? max(latest, episode.to) : latest
        }
    }

    /// Every message of every device that reaches the API in `after` (exclusive) … `through` (inclusive), in
    /// order of arrival (then `tsmTs`, device, id, event): periodic reports, battery reports and command echoes
    /// (`tsmEv` 31), each on the topic of the device's current group. A message withheld by a gateway
    /// connection lost episode arrives when the episode ends, with its own `tsmTs`; so over consecutive windows
    /// this is exactly what the REST history gains, each message once and never before REST shows it.
    public func streamMessages(after: Double, through: Double) -> [FleetStreamMessage] {
        guard through > after else { return [] }
        // The stream has no pages: `--page-cap` limits REST pages only. (Nor does it carry `--bad-items`, which
        // are written into pages, not messages.)
        var fleet = self
        fleet.pageCap = 0
        var found: [(arrival: Double, time: Double, device: Int, id: Int, event: Int, message: FleetStreamMessage)] =
            []
        for (index, device) in devices.enumerated() {
            // Messages older than the window arrive in it only if an episode holding them ended in it.
            let episodes = episodes(device, from: after - Self.longestWithholding, to: through)
            let released = episodes.filter { $0.to > after && $0.to <= through }.map(\.from).min()
            let from = min(after.nextUp, released ?? .infinity)
            // The window is short (one publishing tick, or an episode's backlog), so this limit never ends it.
            let query = MessageQuery(limit: 1_000_000, from: from, to: through)
            guard let messages = try? fleet.messages(tuid: device.tuid, query: query, now: through) else { continue }
            let group = states[index].group ?? Self.unassigned
            for message in messages {
                let arrival = Self.arrival(of: message.time, episodes: episodes)
                guard arrival > after, arrival <= through else { continue }
                let topic = StreamTopic.forMessage(groupID: group, tuid: device.tuid, tsmId: message.tsmID)
                var out = JSONWriter(capacity: 256)
                out.beginObject()
                writeHeader(message, tuid: device.tuid, group: group, to: &out)
                for (name, value) in message.fields { out.field(name, value) }
                out.endObject()
                found.append(
                    (
                        arrival, message.time, index, message.tsmID, message.tsmEv,
                        FleetStreamMessage(time: message.time, arrival: arrival, topic: topic.name, payload: out.bytes)
                    ))
            }
        }
        found.sort {
            ($0.arrival, $0.time, $0.device, $0.id, $0.event) < ($1.arrival, $1.time, $1.device, $1.id, $1.event)
        }
        return found.map(\.message)
    }
}
