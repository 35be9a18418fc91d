/// Installation status and deployment groups.
extension Fleet {
    private func assignment(_ index: Int) -> JSON {
        .object([
            ("tuid", .string(devices[index].tuid)),
            ("installation_status", .string(states[index].installations.last?.status ?? "new")),
            ("group_id", .string(states[index].group ?? Self.unassigned)),
        ])
    }

    /// `POST /things/{tuid}/installations`.
    mutating func setInstallationStatus(tuid: String, status: String, now: Double) throws -> JSON {
        let index = try deviceIndex(tuid)
        guard Self.installationStatuses.contains(status) else {
            throw APIError.badRequest(
                "installation_status must be one of \(Self.installationStatuses.joined(separator: ", "))")
        }
        states[index].installations.append((status, now.rounded(.down)))
        return assignment(index)
    }

    /// `GET /things/{tuid}/installations`, newest first; `limit` 0 or nil lists all.
    func installationHistory(tuid: String, limit: Int? = nil) throws -> JSON {
        let index = try deviceIndex(tuid)
        let limit = limit.flatMap { $0 > 0 ? $0 : nil } ?? Int.max
        return .array(
            states[index].installations.reversed().prefix(limit).map { entry in
                .object([
                    ("tuid", .string(tuid)), ("installation_status", .string(entry.status)),
                    ("timestamp", .int(Int(entry.timestamp))),
                ])
            })
    }

    /// `GET /groups`: `q` matches id or description, case-insensitively.
    func listGroups(query: String?, limit: Int?) -> JSON {
        let needle = query?.lowercased() ?? ""
        let matching = groups.keys.sorted().filter { id in
            needle.isEmpty || id.lowercased().contains(needle) || groups[id]!.lowercased().contains(needle)
        }
        return .array(
            matching.prefix(limit ?? Int.max).map { id in
                .object([("group_id", .string(id)), ("group_description", .string(groups[id]!))])
            })
    }

    /// The longest group id the naming convention (`{env}{country}00{name}`) allows.
    static let maxGroupIDLength = 64

    /// What a new group id must be: not empty, no whitespace, not `unassigned`, at most 64 characters. Ids outside
    /// the naming convention are accepted, as the real service does (the client warns about them).
    private func validateNewGroupID(_ id: String) throws {
        guard !id.isEmpty else { throw APIError.badRequest("group_id must not be empty") }
        guard !id.contains(where: \.isWhitespace) else {
            throw APIError.badRequest("group_id must not contain whitespace")
        }
        guard id != Self.unassigned else { throw APIError.badRequest("group_id must not be \"unassigned\"") }
        guard id.count <= Self.maxGroupIDLength else {
            throw APIError.badRequest("group_id must be at most \(Self.maxGroupIDLength) characters")
        }
        guard groups[id] == nil else { throw APIError.conflict("Group \(id) already exists") }
    }

    /// `POST /groups`.
    mutating func createGroup(id: String, description: String) throws -> JSON {
        try validateNewGroupID(id)
        groups[id] = description
        return .object([("group_id", .string(id)), ("group_description", .string(description))])
    }

    /// `POST /groups/{id}/rename`: the group and its devices take the new id; its description stays.
    mutating func renameGroup(id: String, to newID: String) throws -> JSON {
        guard id != Self.unassigned else { throw APIError.badRequest("The group \"unassigned\" cannot be renamed") }
        guard let description = groups[id] else { throw APIError.notFound("Group \(id) not found") }
        try validateNewGroupID(newID)
        groups[id] = nil
        groups[newID] = description
        for index in states.indices where states[index].group == id {
            states[index].group = newID
        }
        return .object([("group_id", .string(newID)), ("group_description", .string(description))])
    }

    /// `GET /things/{tuid}/group`: the device's current group, `unassigned` when it has none.
    func thingGroup(tuid: String) throws -> JSON {
        let index = try deviceIndex(tuid)
        return .object([("tuid", .string(tuid)), ("group_id", .string(states[index].group ?? Self.unassigned))])
    }

    /// `GET /groups/{id}/things`; `unassigned` always exists.
    func groupThings(id: String) throws -> JSON {
        let member: String?
        if id == Self.unassigned {
            member = nil
        } else {
            guard groups[id] != nil else { throw APIError.notFound("Group \(id) not found") }
            member = id
        }
        let tuids = devices.indices.filter { states[$0].group == member }.map { JSON.string(devices[$0].tuid) }
        return .object([("group_id", .string(id)), ("tuids", .array(tuids))])
    }

    /// `DELETE /groups/{id}`: its devices become unassigned.
    mutating func deleteGroup(id: String) throws -> JSON {
        guard id != Self.unassigned else { throw APIError.badRequest("The group \"unassigned\" cannot be deleted") }
        guard groups[id] != nil else { throw APIError.notFound("Group \(id) not found") }
        groups[id] = nil
        for index in states.indices where states[index].group == id {
            states[index].group = nil
        }
        return .object([("group_id", .string(id)), ("deleted", .bool(true))])
    }

    /// `POST /things/{tuid}/group`; assigning to `unassigned` takes the device out of its group.
    mutating func assignGroup(tuid: String, groupID: String) throws -> JSON {
        let index = try deviceIndex(tuid)
        if groupID == Self.unassigned {
            states[index].group = nil
        } else {
            guard groups[groupID] != nil else { throw APIError.notFound("Group \(groupID) not found") }
            states[index].group = groupID
        }
        return assignment(index)
    }
}
