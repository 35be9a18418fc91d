/// The virtual fleet: a deterministic device population and the state the API can change.
///
/// Everything a device reports is computed from the seed, the device and the time asked about, so a
/// fleet of 10,000 devices is cheap to build and to keep. Only what clients change is stored:
/// installation status, group, commands and the report cadence they set. Methods take the simulated
/// time as an argument, so the model can be tested without a clock or HTTP.
public struct Fleet: Sendable {
    /// The name of the pseudo-group of devices that belong to no group.
    public static let unassigned = "unassigned"
    /// Devices per gateway cluster (the gateway included); each cluster sits in one group.
    let clusterSize: Int
    static let installationStatuses = ["new", "installed", "uninstalled", "quarantine", "retired"]

    public let seed: UInt64
    /// The simulated time the fleet was built at; battery levels and open alerts are set relative to it.
    public let origin: Double
    /// Simulated seconds from a command to its `tsmEv` 31 echo.
    public var echoDelay: Double
    /// If > 0, at most this many items per messages page whatever `limit` asks for.
    var pageCap = 0
    /// Fraction of messages followed in their page by an item a client cannot use.
    var badItemRate = 0.0

    let devices: [Device]
    let byTUID: [String: Int]
    var states: [DeviceState]
    /// Group id → description, without `unassigned`.
    var groups: [String: String]

    /// Builds a fleet of `count` devices (about one gateway per 20 sensors) for a seed.
    public init(devices count: Int, seed: UInt64, origin: Double, echoDelay: Double = 3) {
        self.seed = seed
        self.origin = origin.rounded(.down)
        self.echoDelay = echoDelay
        let count = max(0, count)
        // About one gateway per 20 sensors, but small fleets get smaller clusters so that every group has devices.
        let clusterSize = max(4, min(21, count / GroupProfile.all.count))
        self.clusterSize = clusterSize
        let forcedOpen = Self.forcedOpenEpisodeIndex(count: count, seed: seed, clusterSize: clusterSize)
        var devices: [Device] = []
        devices.reserveCapacity(count)
        var states: [DeviceState] = []
        states.reserveCapacity(count)
        var byTUID: [String: Int] = [:]
        byTUID.reserveCapacity(count)
        let serialOffset = Int(SplitMix64.hash(seed, "serial".key) % 100_000_000)
        for index in 0..<count {
            let device = Self.makeDevice(
                index: index, seed: seed, origin: self.origin, serialOffset: serialOffset, clusterSize: clusterSize,
                forceOpenEpisode: index == forcedOpen)
            let interval = Self.initialReportInterval(device, seed: seed)
            let anchor =
                device.installedAt + (SplitMix64.unit(seed, UInt64(index), "anchor".key) * interval).rounded(.down)
            let newAt = device.installedAt - (1 + SplitMix64.unit(seed, UInt64(index), "new".key) * 20) * 86_400
            states.append(
                DeviceState(
                    group: device.initialGroup,
                    installations: [("new", newAt.rounded(.down)), ("installed", device.installedAt)],
                    segments: [ScheduleSegment(start: device.installedAt, anchor: anchor, interval: interval)],
                    config: [:]))
            byTUID[device.tuid] = index
            devices.append(device)
        }
        self.devices = devices
        self.states = states
        self.byTUID = byTUID
        groups = Dictionary(uniqueKeysWithValues: GroupProfile.all.map { ($0.id, $0.description) })
    }

    /// Every device's TUID, gateways included, in a stable order.
    public func deviceTUIDs() -> [String] {
        devices.map(\.tuid)
    }

    /// The ids of the existing groups, sorted, without `unassigned`.
    public func groupIDs() -> [String] {
        groups.keys.sorted()
    }

    /// The device's current group (`unassigned` when it has none), or nil for an unknown TUID.
    public func group(of tuid: String) -> String? {
        guard let index = byTUID[tuid] else { return nil }
        return states[index].group ?? Self.unassigned
    }

    /// The device's current installation status, or nil for an unknown TUID.
    public func installationStatus(of tuid: String) -> String? {
        guard let index = byTUID[tuid] else { return nil }
        return states[index].installations.last?.status
    }

    /// The TUIDs of devices with an alert episode open at the given time.
    public func tuidsWithOpenAlert(at time: Double) -> [String] {
        devices.filter { !openEpisodes($0, at: time).isEmpty }.map(\.tuid)
    }

    func deviceIndex(_ tuid: String) throws -> Int {
        guard let index = byTUID[tuid] else {
            throw APIError.notFound("Thing \(tuid) not found")
        }
        return index
    }

    // MARK: Population

    private static func makeDevice(
        index: Int, seed: UInt64, origin: Double, serialOffset: Int, clusterSize: Int, forceOpenEpisode: Bool
    ) -> Device {
        let i = UInt64(index)
        let cluster = index / clusterSize
        // The first clusters cover every group once (in an order set by the seed); later ones are drawn by weight.
        let groupCount = GroupProfile.all.count
        let profileIndex =
            cluster < groupCount
            ? (cluster + Int(SplitMix64.hash(seed, "firstGroup".key) % UInt64(groupCount))) % groupCount
            : pickProfile(SplitMix64.unit(seed, UInt64(cluster), "cluster".key))
        let profile = GroupProfile.all[profileIndex]
        let isGateway = index % clusterSize == 0
        let model = isGateway ? .gateway : pickModel(profile.models, SplitMix64.unit(seed, i, "model".key))

        var letters = ""
        var generator = SplitMix64(seed: SplitMix64.hash(seed, i, "letters".key))
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ")
        for _ in 0..<3 { letters.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
        // The multiplier is coprime to 10^8, so distinct indices give distinct serial digits.
        let digits = (serialOffset + index * 48_271_731) % 100_000_000
        let digitString = String(digits)
        let serial = letters + String(repeating: "0", count: 8 - digitString.count) + digitString

        let unassigned = !isGateway && SplitMix64.unit(seed, i, "unassigned".key) < 0.12
        let u = { (label: String) in SplitMix64.unit(seed, i, label.key) }
        let installedAt = (origin - (30 + u("installed") * 300) * 86_400).rounded(.down)
        let battery: Double
        if model.isMainsPowered {
            battery = 100
        } else if u("low") < 0.06 {
            battery = 6 + u("battery") * 13
        } else {
            battery = 25 + u("battery") * 75
        }
        var openEpisode: (Double, Double)?
        if forceOpenEpisode || (!isGateway && u("open") < 0.03) {
            // 1.5–6 h long, within the documented 5 min–6 h; begun at least an hour before the origin and ending
            // at least five minutes after it.
            let length = (5_400 + u("openLength") * 16_200).rounded(.down)
            let elapsed = (3_600 + u("openFrom") * (length - 3_900)).rounded(.down)
            openEpisode = (origin - elapsed, origin - elapsed + length)
        }
        let versions = model.firmwareVersions
        return Device(
            index: index,
            tuid: model.rawValue + serial,
            model: model,
            profile: profileIndex,
            initialGroup: unassigned ? nil : profile.id,
            gateway: cluster * clusterSize,
            latitude: ((profile.latitude + (u("lat") - 0.5) * 0.02) * 10_000).rounded() / 10_000,
            longitude: ((profile.longitude + (u("lon") - 0.5) * 0.04) * 10_000).rounded() / 10_000,
            version: versions[Int(u("version") * Double(versions.count))],
            installedAt: installedAt,
            batteryAtOrigin: battery,
            drainPerDay: 0.02 + u("drain") * 0.2,
            batteryPhase: (u("batteryPhase") * 3600).rounded(.down),
            scale: 0.6 + u("scale") * 0.8,
            openEpisode: openEpisode)
    }

    /// One sensor (not a gateway) that has an alert open at the origin whatever the seed.
    private static func forcedOpenEpisodeIndex(count: Int, seed: UInt64, clusterSize: Int) -> Int? {
        guard count > 0 else { return nil }
        let start = Int(SplitMix64.hash(seed, "forcedOpen".key) % UInt64(count))
        for offset in 0..<count {
            let index = (start + offset) % count
            if index % clusterSize != 0 { return index }
        }
        return start
    }

    private static func pickProfile(_ u: Double) -> Int {
        var total = 0.0
        for (index, profile) in GroupProfile.all.enumerated() {
            total += profile.weight
            if u < total { return index }
        }
        return GroupProfile.all.count - 1
    }

    private static func pickModel(_ models: [(DeviceModel, Double)], _ u: Double) -> DeviceModel {
        var total = 0.0
        for (model, weight) in models {
            total += weight
            if u < total { return model }
        }
        return models[models.count - 1].0
    }

    private static func initialReportInterval(_ device: Device, seed: UInt64) -> Double {
        let profile = GroupProfile.all[device.profile]
        switch (device.model, profile.place) {
        case (.gateway, _): return 900
        case (_, .coldRooms), (.peopleCounter, _): return 300
        case (.distance, _): return 900
        default:
            let choices: [Double] = [300, 600, 900]
            return choices[Int(SplitMix64.unit(seed, UInt64(device.index), "interval".key) * 3)]
        }
    }
}
