import Foundation

/// "gateway connection lost" episodes: hashed per device and day, plus the ones open at the origin.
///
/// While an episode lasts, none of the device's messages (echoes included) reach the API: they arrive when it
/// ends, with their own `tsmTs`, so a client sees them late and out of order.
extension Fleet {
    struct Episode: Sendable, Equatable {
        let from: Double
        let to: Double
    }

    static let alertType = "gateway connection lost"
    private static let episodeChancePerDay = 0.06

    private func randomEpisode(_ device: Device, day: Double) -> Episode? {
        let key = UInt64(bitPattern: Int64(day))
        let i = UInt64(device.index)
        guard SplitMix64.unit(seed, i, Labels.episode, key) < Self.episodeChancePerDay else { return nil }
        let start = (day * 86_400 + SplitMix64.unit(seed, i, Labels.episodeStart, key) * 86_400).rounded(.down)
        // Five minutes to six hours, most of them short.
        let length = (300 * pow(72, SplitMix64.unit(seed, i, Labels.episodeLength, key))).rounded(.down)
        let episode = Episode(from: start, to: start + length)
        guard episode.from >= device.installedAt else { return nil }
        if let (openFrom, openTo) = device.openEpisode, episode.from < openTo, episode.to > openFrom {
            return nil
        }
        return episode
    }

    /// Episodes overlapping `from…to`, oldest first (including ones that have not ended yet).
    func episodes(_ device: Device, from: Double, to: Double) -> [Episode] {
        var result: [Episode] = []
        if let (openFrom, openTo) = device.openEpisode, openFrom <= to, openTo >= from {
            result.append(Episode(from: openFrom, to: openTo))
        }
        var day = (from / 86_400).rounded(.down) - 1
        let lastDay = (to / 86_400).rounded(.down)
        while day <= lastDay {
            if let episode = randomEpisode(device, day: day), episode.from <= to, episode.to >= from {
                result.append(episode)
            }
            day += 1
        }
        return result.sorted { $0.from < $1.from }
    }

    /// The device's episodes open at `time`: begun, not yet ended (an episode lasts at most six hours).
    func openEpisodes(_ device: Device, at time: Double) -> [Episode] {
        var open: [Episode] = []
        if let (from, to) = device.openEpisode, from <= time, to > time { open.append(Episode(from: from, to: to)) }
        let day = (time / 86_400).rounded(.down)
        for slot in stride(from: day - 1, through: day, by: 1) {
            if let episode = randomEpisode(device, day: slot), episode.from <= time, episode.to > time {
                open.append(episode)
            }
        }
        return open
    }

    /// `GET /things/alerts`: every device with an alert open now.
    func alertingTUIDs(now: Double) -> JSON {
        .object([("alerting_tuids", .array(tuidsWithOpenAlert(at: now).map(JSON.string)))])
    }

    /// `GET /things/alerts/count`: how many devices have an alert open now, as a string (as the API has it).
    func alertCount(now: Double) -> JSON {
        .object([("alert_count", .string(String(tuidsWithOpenAlert(at: now).count)))])
    }

    /// `GET /things/{tuid}/alerts`: the episodes in range, newest first; an ongoing one has no `to`.
    func alerts(tuid: String, from: Double?, to: Double?, now: Double) throws -> JSON {
        let device = devices[try deviceIndex(tuid)]
        let upper = min(to ?? now, now)
        let lower = from ?? upper - 7 * 86_400
        guard lower <= upper else { return .array([]) }
        let found = episodes(device, from: lower, to: upper).filter { $0.from <= now }
        guard !found.isEmpty else { return .array([]) }
        let periods: [JSON] = found.reversed().map { episode in
            var period: [(String, JSON)] = [("from", .string(HTTPDate.isoWithoutZone(episode.from)))]
            if episode.to <= now {
                period.append(("to", .string(HTTPDate.isoWithoutZone(episode.to))))
            }
            return .object(period)
        }
        return .array([
            .object([("tuid", .string(tuid)), ("alert_type", .string(Self.alertType)), ("alerts", .array(periods))])
        ])
    }
}
