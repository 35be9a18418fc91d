import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let groups = CommandDefinition(
        name: "groups", summary: "list deployment groups", usage: "[TEXT] [--limit N]", positionals: [.text],
        flags: [FlagSpec(["--limit", "-n"], value: "N", kind: .number, help: "at most N groups")],
        example: "groups cold --limit 10"
    ) { inv in
        try inv.expectPositionals(0, 1)
        let list = try await inv.client.groups(search: inv.positionals.first, limit: try inv.positiveInt("--limit"))
        for g in list { inv.context.cache.note(group: g.groupId) }
        inv.emit(
            Rendered(
                data: .array(list.map(\.raw)),
                table: Table(
                    columns: ["group", "description"], rows: list.map { [$0.groupId, $0.groupDescription ?? ""] })))
    }

    static let group = CommandDefinition(
        name: "group", summary: "create, delete and fill deployment groups",
        usage:
            "create ID [DESCRIPTION…] | delete ID [--yes] | assign TUID GROUP | things GROUP | of TUID | rename OLD NEW",
        example: "group create prfi00coldchain \"Cold storage rooms\"",
        subcommands: [groupCreate, groupDelete, groupAssign, groupThings, groupOf, groupRename])

    static let groupOf = CommandDefinition(
        name: "of", summary: "the deployment group of a device", usage: "TUID", positionals: [.tuid],
        example: "group of TSPD04LLY59881187"
    ) { inv in
        try inv.expectPositionals(1, 1)
        let tuid = try inv.tuid(at: 0)
        let group = try await inv.client.groupOf(tuid)
        inv.context.cache.note(group: group)
        inv.emit(
            Rendered(
                data: ["tuid": .string(tuid), "group_id": .string(group)],
                table: Table(columns: ["tuid", "group"], rows: [[tuid, group]])))
    }

    static let groupRename = CommandDefinition(
        name: "rename", summary: "rename a deployment group (its devices follow)", usage: "OLD NEW",
        positionals: [.group, .text], example: "group rename prfi00coldchain prfi00coldchain",
        notes: [
            "NEW follows the rules of `group create`: no white space, not `unassigned`; a warning when it is "
                + "outside the naming convention {env}{country}00{name}."
        ]
    ) { inv in
        try inv.expectPositionals(2, 2)
        let old = inv.positionals[0]
        if old == "unassigned" { throw CommandError.usage("`unassigned` cannot be renamed: every device starts there") }
        let new = try Self.newGroupID(inv.positionals[1])
        if let warning = Self.namingWarning(new) { inv.note(warning) }
        _ = try await inv.client.renameGroup(old, to: new)
        inv.context.cache.forget(group: old)
        inv.context.cache.note(group: new)
        inv.emit(
            Rendered(
                data: ["group_id": .string(new), "renamed_from": .string(old)],
                table: Table(columns: ["group", "renamed from"], rows: [[new, old]])))
    }

    static let groupCreate = CommandDefinition(
        name: "create", summary: "create a deployment group", usage: "ID [DESCRIPTION…]", positionals: [.text, .text],
        variadic: true, example: "group create prfi00coldchain \"Cold storage rooms\"",
        notes: ["ID may not contain white space or be `unassigned`."]
    ) { inv in
        guard !inv.positionals.isEmpty else {
            throw CommandError.usage("group create: missing ID; usage: group create ID [DESCRIPTION…]")
        }
        let id = try Self.newGroupID(inv.positionals[0])
        if let warning = Self.namingWarning(id) { inv.note(warning) }
        let description = inv.positionals.count > 1 ? inv.positionals.dropFirst().joined(separator: " ") : nil
        let group = try await inv.client.createGroup(id, description: description)
        inv.context.cache.note(group: id)
        inv.emit(
            Rendered(
                data: group.raw,
                table: Table(columns: ["group", "description"], rows: [[group.groupId, group.groupDescription ?? ""]])))
    }

    static let groupDelete = CommandDefinition(
        name: "delete", summary: "delete a deployment group (asks first when it has devices)", usage: "ID [--yes]",
        positionals: [.group], example: "group delete prfi00coldchain --yes",
        notes: [
            "A group with devices is deleted only after confirmation on a terminal, or with --yes. "
                + "Without a terminal tsee never asks: it refuses (exit 2) unless --yes is given."
        ]
    ) { inv in
        try inv.expectPositionals(1, 1)
        let id = inv.positionals[0]
        if !inv.assumeYes {
            let count = try await inv.client.groupThings(id).tuids.count
            if count > 0 {
                let question = "group \(id) has \(count) device\(count == 1 ? "" : "s"); delete it?"
                guard let confirmer = inv.context.confirmer, let answer = await confirmer.confirm(question) else {
                    throw CommandError.usage(
                        "\(question) Not deleted: there is no terminal to confirm on; pass --yes to delete it")
                }
                guard answer else {
                    inv.note("not deleted")
                    return
                }
            }
        }
        let result = try await inv.client.deleteGroup(id)
        inv.context.cache.forget(group: id)
        inv.emit(
            Rendered(
                data: result.raw,
                table: Table(columns: ["group", "deleted"], rows: [[result.groupId ?? id, String(result.deleted)]])))
    }

    static let groupAssign = CommandDefinition(
        name: "assign",
        summary: "move a device, or many (--where, --group, -), into a group (`unassigned` takes it out)",
        usage: "(TUID | --where EXPR [--group G] | -) GROUP [--yes] [--dry-run]", positionals: [.tuid, .group],
        flags: BulkAction.flags, example: "group assign TSPD04LLY59881187 prfi00coldchain", notes: [Self.bulkNote]
    ) { inv in
        let (target, rest) = try BulkAction.target(inv)
        guard rest.count == 1 else {
            throw CommandError.usage(
                "group assign: \(rest.isEmpty ? "missing GROUP" : "too many arguments"); usage: group assign "
                    + inv.command.usage)
        }
        let group = rest[0]
        guard !group.isEmpty, !group.contains(where: \.isWhitespace) else {
            throw CommandError.usage("`\(group)` is not a group id: group ids contain no white space")
        }
        let client = inv.client
        let action = BulkAction(
            inv: inv, summary: "group assign \(group)",
            request: { "POST /things/\($0)/group {\"group_id\":\"\(group)\"}" },
            perform: { tuid in
                let result = try await client.assignGroup(tuid, to: group)
                return "group \(result.groupId ?? group)"
            })
        switch target {
        case .one(let tuid) where !inv.arguments.has("--dry-run"):
            let result = try await inv.client.assignGroup(tuid, to: group)
            inv.emit(
                Rendered(
                    data: result.raw,
                    table: Table(
                        columns: ["tuid", "group", "status"],
                        rows: [[result.tuid ?? tuid, result.groupId ?? group, result.installationStatus ?? "-"]])))
        case .one(let tuid):
            try await action.run([tuid])
        case .many(let selection, let stdin):
            let (tuids, failed) = try await BulkAction.devices(selection, fromStandardInput: stdin, inv: inv)
            try await action.run(tuids, unreadable: failed)
        }
    }

    static let groupThings = CommandDefinition(
        name: "things", summary: "the devices of a group", usage: "GROUP", positionals: [.group],
        example: "group things prfi00coldchain"
    ) { inv in
        try inv.expectPositionals(1, 1)
        let result = try await inv.client.groupThings(inv.positionals[0])
        for t in result.tuids { inv.context.cache.note(tuid: t) }
        inv.emit(Rendered(data: result.raw, table: Table(columns: ["tuid"], rows: result.tuids.map { [$0] })))
    }

    /// A warning for an id outside the convention `{env}{country}00{name}` (lower-case letters and digits, at most
    /// 64 characters: `prfi00haltianhq`); such an id is still created, as the API accepts it.
    static func namingWarning(_ id: String) -> String? {
        let chars = Array(id)
        let lowerAlphanumeric = chars.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        let shaped =
            chars.count > 6 && chars.count <= 64 && lowerAlphanumeric && chars[0...3].allSatisfy(\.isLetter)
            && chars[4] == "0" && chars[5] == "0"
        if shaped { return nil }
        return "tsee: warning: `\(id)` does not follow the group naming convention {env}{country}00{name} "
            + "(lower-case letters and digits, at most 64 characters, e.g. prfi00haltianhq; env pr production — "
            + "the only one routed to the data integration —, dm demo, rd development)"
    }

    /// A group id that may be created: not empty, no white space, not `unassigned`.
    static func newGroupID(_ id: String) throws(CommandError) -> String {
        if id.isEmpty || id.contains(where: \.isWhitespace) {
            throw .usage(
                "`\(id)` is not a valid group id: group ids may not contain white space (try `\(id.split(whereSeparator: \.isWhitespace).joined(separator: "-"))`)"
            )
        }
        if id.lowercased() == "unassigned" {
            throw .usage(
                "`unassigned` is reserved: every device starts there, and no group may be created with that name")
        }
        return id
    }
}
