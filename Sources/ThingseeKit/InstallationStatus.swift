/// The installation statuses of the API, in lifecycle order.
public enum InstallationStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case new
    case installed
    case uninstalled
    case quarantine
    case retired

    /// Every status name, for validation and completion.
    public static let names: [String] = allCases.map(\.rawValue)
}
