/// A Thingsee product as the simulator models it: its TUID prefix and what it reports.
enum DeviceModel: String, Sendable, CaseIterable {
    case environmentPod = "TSPD04"
    case environment = "TSEN01"
    case presence = "TSPR04"
    case distance = "TSTF01"
    case airQuality = "TSAR01"
    case peopleCounter = "TSAP01"
    case leakage = "TSLK01"
    case gateway = "TSGW01"

    /// Message ids sent at every report (`tsmEv` 10), besides the hourly 1110 battery message.
    var reportIDs: [Int] {
        switch self {
        case .environmentPod: return [12100, 12101]
        case .environment, .leakage: return [12100]
        case .presence: return [13100, 2100]
        case .distance: return [17100]
        case .airQuality: return [12100, 24100, 24101]
        case .peopleCounter: return [13103]
        case .gateway: return []
        }
    }

    /// Mains-powered devices report full battery and `chrg` 1.
    var isMainsPowered: Bool { self == .gateway || self == .peopleCounter }

    var firmwareVersions: [String] {
        switch self {
        case .environmentPod: return ["2019.11.15.2_ts_pod3wp34", "2021.03.02.1_ts_pod3wp34"]
        case .environment: return ["2022.06.20.3_ts_env01", "2023.01.11.1_ts_env01"]
        case .presence: return ["2021.09.14.2_ts_pr04"]
        case .distance: return ["2020.10.05.1_ts_tof01", "2022.02.17.4_ts_tof01"]
        case .airQuality: return ["2023.04.03.2_ts_aq01"]
        case .peopleCounter: return ["2022.11.28.1_ts_pc01"]
        case .leakage: return ["2021.05.25.1_ts_lk01"]
        case .gateway: return ["2023.08.30.5_ts_gw01", "2022.12.01.2_ts_gw01"]
        }
    }
}

/// A deployment group of the initial fleet, with the sensor mix and place it stands for.
///
/// `all` is the one place that names the initial groups: the model switches on `place`, never on an id.
struct GroupProfile: Sendable {
    /// What kind of site the group's devices stand in; it drives their values and office hours.
    enum Place: Sendable {
        case coldRooms, office, warehouse, retail, wasteBins
    }

    let id: String
    let place: Place
    let description: String
    let weight: Double
    let models: [(DeviceModel, Double)]
    let latitude: Double
    let longitude: Double

    static let all: [GroupProfile] = [
        GroupProfile(
            id: "prfi00coldchain", place: .coldRooms, description: "Cold rooms and freezers, Oulu distribution centre", weight: 0.25,
            models: [(.environmentPod, 0.6), (.environment, 0.3), (.leakage, 0.1)], latitude: 65.012, longitude: 25.471),
        GroupProfile(
            id: "prfi00officehq", place: .office, description: "Head office meeting rooms and open space, Helsinki", weight: 0.25,
            models: [(.airQuality, 0.35), (.presence, 0.35), (.peopleCounter, 0.1), (.environment, 0.2)],
            latitude: 60.170, longitude: 24.941),
        GroupProfile(
            id: "prfi00warehousenorth", place: .warehouse, description: "Warehouse North storage halls", weight: 0.2,
            models: [(.environment, 0.4), (.distance, 0.3), (.leakage, 0.15), (.environmentPod, 0.15)],
            latitude: 65.058, longitude: 25.456),
        GroupProfile(
            id: "prfi00retailtampere", place: .retail, description: "Retail store, Tampere city centre", weight: 0.15,
            models: [(.peopleCounter, 0.25), (.presence, 0.3), (.airQuality, 0.25), (.environment, 0.2)],
            latitude: 61.498, longitude: 23.761),
        GroupProfile(
            id: "prfi00wastebins", place: .wasteBins, description: "Waste container fill levels, Espoo", weight: 0.15,
            models: [(.distance, 1.0)], latitude: 60.205, longitude: 24.655),
    ]
}
