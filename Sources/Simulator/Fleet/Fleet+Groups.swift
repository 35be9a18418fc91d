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

    /// `GET /things/{tuid}/installations`, newest first.
    func installationHistory(tuid: String) throws -> JSON {
        let index = try deviceIndex(tuid)
        return .array(
            states[index].installations.reversed().map { entry in
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

    /// `POST /groups`.
    mutating func createGroup(id: String, description: String) throws -> JSON {
        guard !id.isEmpty else { throw APIError.badRequest("group_id must not be empty") }
        guard !id.contains(where: \.isWhitespace) else {
            throw APIError.badRequest("group_id must not contain whitespace")
        }
        guard id != Self.unassigned else { throw APIError.badRequest("group_id must not be \"unassigned\"") }
        guard groups[id] == nil else { throw APIError.conflict("Group \(id) already exists") }
        groups[id] = description
        return .object([("group_id", .string(id)), ("group_description", .string(description))])
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
