import Foundation

/// What a device measures at a given time: smooth daily and weekly patterns plus hashed noise.
extension Fleet {
    /// Finnish local time (UTC+2, daylight saving ignored) drives office hours and daylight.
    private static let localOffset = 7_200.0

    func noise(_ device: Device, _ label: String, _ time: Double) -> Double {
        noise(device, key: label.key, time)
    }

    /// The same with the label's key computed once (`Labels`), for the per-message paths.
    func noise(_ device: Device, key: UInt64, _ time: Double) -> Double {
        SplitMix64.unit(seed, UInt64(device.index), key, time.key)
    }

    private func hourOfDay(_ time: Double) -> Double {
        let local = time + Self.localOffset
        return (local - (local / 86_400).rounded(.down) * 86_400) / 3_600
    }

    /// 0 Monday … 6 Sunday.
    private func weekday(_ time: Double) -> Int {
        let days = Int(((time + Self.localOffset) / 86_400).rounded(.down))
        return ((days + 3) % 7 + 7) % 7
    }

    /// How busy the device's place is, 0…1: office hours for offices, shop hours for retail.
    func occupancy(_ device: Device, _ time: Double) -> Double {
        let hour = hourOfDay(time)
        let day = weekday(time)
        let place = GroupProfile.all[device.profile].place
        let open: ClosedRange<Double>
        switch place {
        case .office:
            guard day < 5 else { return 0 }
            open = 8...17
        case .retail:
            open = day == 6 ? 12...18 : 9...20
        case .warehouse, .coldRooms:
            guard day < 5 else { return 0 }
            open = 6...22
        default:
            return 0
        }
        guard open.contains(hour) else { return 0 }
        let progress = (hour - open.lowerBound) / (open.upperBound - open.lowerBound)
        // Two peaks, late morning and early afternoon, with a lunch dip.
        let shape = sin(progress * .pi) * (0.75 + 0.25 * cos(progress * 4 * .pi))
        return max(0, min(1, shape))
    }

    /// The battery level in %, draining slowly from its level at the fleet's origin.
    func battery(_ device: Device, _ time: Double) -> Double {
        guard !device.model.isMainsPowered else { return 100 }
        let level = device.batteryAtOrigin - device.drainPerDay * (time - origin) / 86_400
        return max(0, min(100, level))
    }

    /// A cold-room door left open: the temperature climbs above 8 °C for 35 minutes to 2 hours.
    private func excursion(_ device: Device, _ time: Double) -> Double {
        let day = (time / 86_400).rounded(.down)
        var warming = 0.0
        for slot in [day - 1, day] {
            let key = UInt64(bitPattern: Int64(slot))
            guard SplitMix64.unit(seed, UInt64(device.index), Labels.excursion, key) < 0.2 else { continue }
            let start = slot * 86_400 + SplitMix64.unit(seed, UInt64(device.index), Labels.excursionStart, key) * 86_400
            let length = 2_100 + SplitMix64.unit(seed, UInt64(device.index), Labels.excursionLength, key) * 5_100
            let into = time - start
            guard into >= 0, into <= length + 600 else { continue }
            let ramp = min(1, into / 300, (length + 600 - into) / 600)
            warming = max(warming, 6 * ramp)
        }
        return warming
    }

    private func round(_ value: Double, _ decimals: Int) -> JSON {
        let factor = decimals == 1 ? 10 : decimals == 2 ? 100 : pow(10, Double(decimals))
        return .double((value * factor).rounded() / factor)
    }

    /// The properties of message `tsmID` for a report at `time`; `interval` is the current report cadence.
    func reportFields(_ tsmID: Int, _ device: Device, _ time: Double, interval: Double) -> [(String, JSON)] {
        let occ = occupancy(device, time)
        let hour = hourOfDay(time)
        let daily = sin((hour - 9) / 24 * 2 * .pi)
        let place = GroupProfile.all[device.profile].place
        switch tsmID {
        case 1110:
            // Whole percent, as the API document's example and Haltian's own clients have it.
            return [
                ("batl", .int(Int(battery(device, time).rounded()))), ("chrg", .int(device.model.isMainsPowered ? 1 : 0)),
            ]
        case 12100:
            let temp: Double
            let humd: Double
            let light: Double
            switch place {
            case .coldRooms:
                temp = 3 + 1.5 * device.scale + 0.8 * daily + excursion(device, time)
                humd = 82 + 5 * daily
                light = occ > 0.3 ? 40 * occ : 0
            case .warehouse:
                temp = 12 + 2 * device.scale + 3 * daily
                humd = 45 - 8 * daily
                light = occ > 0 ? 150 + 150 * occ : 2
            default:
                temp = 20 + device.scale + 1.2 * occ + 0.8 * daily
                humd = 32 + 8 * device.scale - 4 * daily
                light = occ > 0 ? 250 + 350 * occ : max(0, 80 * daily)
            }
            let pressure = 101_325 + 900 * sin(time / (5.3 * 86_400) * 2 * .pi) + 300 * sin(time / (1.7 * 86_400))
            return [
                ("temp", round(temp + (noise(device, key: Labels.temp, time) - 0.5) * 0.4, 2)),
                ("humd", round(humd + (noise(device, key: Labels.humd, time) - 0.5) * 2, 1)),
                ("airp", round(pressure + (noise(device, key: Labels.airp, time) - 0.5) * 40, 1)),
                ("lght", .int(Int(max(0, light + (noise(device, key: Labels.lght, time) - 0.5) * 20).rounded()))),
            ]
        case 12101:
            let open = noise(device, key: Labels.hall, time) < 0.04 + 0.2 * occ
            let openingsPerDay = 10 + 30 * device.scale
            let count = Int(((time - device.installedAt) / 86_400 * openingsPerDay).rounded(.down))
            return [("hall", .int(open ? 0 : 1)), ("hallCount", .int(count))]
        case 13100:
            return [("moveCount", .int(Int((occ * 25 * noise(device, key: Labels.move, time)).rounded())))]
        case 2100:
            return [("state", .int(noise(device, key: Labels.state, time) < 0.05 + 0.85 * occ ? 1 : 0))]
        case 13103:
            let totalIn = peopleCount(device, time)
            let totalOut = peopleCount(device, time - 900)
            let inCount = totalIn - peopleCount(device, time - interval)
            let outCount = totalOut - peopleCount(device, time - 900 - interval)
            return [
                ("in", .int(inCount)), ("out", .int(outCount)), ("totalIn", .int(totalIn)),
                ("totalOut", .int(totalOut)),
            ]
        case 17100:
            let period = (2 + 4 * device.scale) * 86_400
            let phase = SplitMix64.unit(seed, UInt64(device.index), Labels.fill)
            let cycles = (time - device.installedAt) / period + phase
            let fill = cycles - cycles.rounded(.down)
            let distance = 1_800 - 1_500 * fill + (noise(device, key: Labels.dist, time) - 0.5) * 30
            return [("dist", .int(Int(distance.rounded())))]
        case 24100:
            let co2 = 420 + 950 * occ * device.scale + (noise(device, key: Labels.co2, time) - 0.5) * 40
            return [("carbonDioxide", .int(Int(co2.rounded())))]
        case 24101:
            let tvoc = 60 + 380 * occ + (noise(device, key: Labels.tvoc, time) - 0.5) * 30
            return [("tvoc", .int(Int(tvoc.rounded())))]
        default:
            return []
        }
    }

    /// People counted since installation: a fixed daily total spread over opening hours, never decreasing.
    private func peopleCount(_ device: Device, _ time: Double) -> Int {
        let perDay = 150 + 600 * device.scale
        guard time > device.installedAt else { return 0 }
        let localDay = { (t: Double) in ((t + Self.localOffset) / 86_400).rounded(.down) }
        let days = localDay(time) - localDay(device.installedAt)
        let hour = hourOfDay(time)
        // Smoothstep from 07:00 to 19:00: the share of the day's visitors that have already come in.
        let x = max(0, min(1, (hour - 7) / 12))
        let share = x * x * (3 - 2 * x)
        return Int((days * perDay + share * perDay).rounded(.down))
    }
}

/// Hash keys of the labels the per-message paths use, computed once.
enum Labels {
    static let temp = "temp".key
    static let humd = "humd".key
    static let airp = "airp".key
    static let lght = "lght".key
    static let hall = "hall".key
    static let move = "move".key
    static let state = "state".key
    static let dist = "dist".key
    static let co2 = "co2".key
    static let tvoc = "tvoc".key
    static let excursion = "excursion".key
    static let excursionStart = "excursionStart".key
    static let excursionLength = "excursionLength".key
    static let fill = "fill".key
    static let reroute = "reroute".key
    static let bad = "bad".key
    static let episode = "episode".key
    static let episodeStart = "episodeStart".key
    static let episodeLength = "episodeLength".key
}
