// The calls Haltian's own clients make beyond the seed document (see DESIGN, "Facts about the real API"), as the
// REPL's fleet commands use them. Self-contained: the client's own versions of these calls replace this file.

extension ThingseeClient {
    /// `GET /things/{tuid}/group`: the device's deployment group (`unassigned` when it has none).
    ///
    /// A deployment that does not serve the route (404 "No route", 403 "Missing Authentication Token") is asked
    /// group by group instead.
    public func groupOf(_ tuid: String) async throws -> String {
        do {
            let (data, reader) = try await call(.get, ["things", tuid, "group"])
            guard let group = data["group_id"]?.stringValue else { throw reader.fail("data.group_id", "is missing") }
            return group
        } catch ThingseeError.api(_, let status, _, let message)
            where status == 404 && message.hasPrefix("No route") || status == 403 && message.contains("Missing Auth")
        {
            _ = try await thing(tuid)  // an unknown device is a 404 of its own
            for group in try await groups() where try await groupThings(group.groupId).tuids.contains(tuid) {
                return group.groupId
            }
            return "unassigned"
        }
    }

    /// `POST /groups/{id}/rename` with `{"group_id": NEW}`.
    public func renameGroup(_ id: String, to new: String) async throws {
        _ = try await call(.post, ["groups", id, "rename"], body: ["group_id": .string(new)])
    }

    /// `GET /things/{tuid}/installations?limit=N`, newest first (`limit` 1: the current status; `nil`: all).
    public func installations(_ tuid: String, limit: Int?) async throws -> [InstallationEntry] {
        let query = limit.map { [("limit", String($0))] } ?? []
        let (data, reader) = try await call(.get, ["things", tuid, "installations"], query: query)
        let list = try reader.installationHistory(data)
        return limit.map { $0 > 0 ? Array(list.prefix($0)) : list } ?? list
    }

    /// `GET /things/{tuid}/commands?limit=N`, newest first (`nil`: all).
    public func commandHistory(_ tuid: String, limit: Int?) async throws -> [CommandHistoryEntry] {
        let query = limit.map { [("limit", String($0))] } ?? []
        let (data, reader) = try await call(.get, ["things", tuid, "commands"], query: query)
        let list = try reader.commandHistory(data)
        return limit.map { $0 > 0 ? Array(list.prefix($0)) : list } ?? list
    }
}
