/// The API's routes, matched on path components below `/prod/v1`.
enum Route: Sendable, Equatable {
    case clientToken
    case thing(String)
    case messages(String)
    case alerts(String)
    case commands(String)
    case installations(String)
    case thingGroup(String)
    case groups
    case groupThings(String)
    case group(String)
    case simStats

    static let basePath = "/prod/v1"

    /// Matches a path; nil for an unknown route.
    init?(path: String) {
        if path == "/_sim/stats" || path == "/_sim/stats/" {
            self = .simStats
            return
        }
        guard path.hasPrefix(Self.basePath + "/") else { return nil }
        let parts = path.dropFirst(Self.basePath.count).split(separator: "/").map(String.init)
        switch parts.count {
        case 1 where parts[0] == "groups": self = .groups
        case 2 where parts == ["auth", "client-token"]: self = .clientToken
        case 2 where parts[0] == "things": self = .thing(parts[1])
        case 2 where parts[0] == "groups": self = .group(parts[1])
        case 3 where parts[0] == "groups" && parts[2] == "things": self = .groupThings(parts[1])
        case 3 where parts[0] == "things":
            switch parts[2] {
            case "messages": self = .messages(parts[1])
            case "alerts": self = .alerts(parts[1])
            case "commands": self = .commands(parts[1])
            case "installations": self = .installations(parts[1])
            case "group": self = .thingGroup(parts[1])
            default: return nil
            }
        default: return nil
        }
    }

    /// The route with its parameters as placeholders, as the stats count it.
    var template: String {
        switch self {
        case .clientToken: return "/auth/client-token"
        case .thing: return "/things/{tuid}"
        case .messages: return "/things/{tuid}/messages"
        case .alerts: return "/things/{tuid}/alerts"
        case .commands: return "/things/{tuid}/commands"
        case .installations: return "/things/{tuid}/installations"
        case .thingGroup: return "/things/{tuid}/group"
        case .groups: return "/groups"
        case .groupThings: return "/groups/{groupid}/things"
        case .group: return "/groups/{groupid}"
        case .simStats: return "/_sim/stats"
        }
    }
}
