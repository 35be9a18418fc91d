/// The parts of a data integration topic, `cloudext/json/{env}/{country}/{groupId}/{tuid}/{tsmId}`.
public struct StreamTopic: Sendable, Equatable {
    public var environment: String
    public var country: String
    public var groupID: String
    public var tuid: String
    public var tsmId: Int?

    public init(environment: String, country: String, groupID: String, tuid: String, tsmId: Int?) {
        self.environment = environment
        self.country = country
        self.groupID = groupID
        self.tuid = tuid
        self.tsmId = tsmId
    }

    /// Parses a topic of the real layout; nil for any other topic.
    public init?(_ topic: String) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard levels.count == 7, levels[0] == "cloudext", levels[1] == "json",
            levels[2...5].allSatisfy({ !$0.isEmpty })
        else { return nil }
        environment = String(levels[2])
        country = String(levels[3])
        groupID = String(levels[4])
        tuid = String(levels[5])
        tsmId = Int(levels[6])
    }

    /// The topic string.
    public var name: String {
        "cloudext/json/\(environment)/\(country)/\(groupID)/\(tuid)/\(tsmId.map(String.init) ?? "")"
    }

    /// The topic a device message is published on. Env and country come from the group id when it follows the
    /// `{env}{country}00{name}` convention (`prfi00haltianhq` → `pr`, `fi`), else `pr` and `fi`.
    public static func forMessage(groupID: String, tuid: String, tsmId: Int) -> StreamTopic {
        let (environment, country) = conventionParts(of: groupID) ?? ("pr", "fi")
        return StreamTopic(environment: environment, country: country, groupID: groupID, tuid: tuid, tsmId: tsmId)
    }

    /// `(env, country)` of a group id like `prfi00haltianhq`: lower-case alphanumerics, at most 64 characters,
    /// two letters of environment, two of country, then `00` and a name.
    static func conventionParts(of groupID: String) -> (String, String)? {
        let bytes = Array(groupID.utf8)
        guard bytes.count > 6, bytes.count <= 64,
            bytes.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) }),
            bytes[0..<4].allSatisfy({ (0x61...0x7a).contains($0) }), bytes[4] == 0x30, bytes[5] == 0x30
        else { return nil }
        return (String(decoding: bytes[0..<2], as: UTF8.self), String(decoding: bytes[2..<4], as: UTF8.self))
    }
}
