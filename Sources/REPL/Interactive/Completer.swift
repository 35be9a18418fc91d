import Foundation
import ThingseeAPI

/// Tab completion from the command table and the cache: commands, sub-commands, flags, statuses, command ids,
/// each command id's parameter names, group ids and TUIDs.
public struct Completer: Sendable {
    public let registry: CommandRegistry
    public let cache: CompletionCache
    /// Called before server values are offered (to refresh a stale cache, briefly).
    public let willUseServerValues: @Sendable () -> Void
    /// The names of the session's rules (`rules explain`, `log --rule`).
    public let ruleNames: @Sendable () -> [String]
    /// The profiles of the configuration file.
    public let profileNames: @Sendable () -> [String]

    public init(
        registry: CommandRegistry, cache: CompletionCache, willUseServerValues: @escaping @Sendable () -> Void = {},
        ruleNames: @escaping @Sendable () -> [String] = { [] },
        profileNames: @escaping @Sendable () -> [String] = { [] }
    ) {
        self.registry = registry
        self.cache = cache
        self.willUseServerValues = willUseServerValues
        self.ruleNames = ruleNames
        self.profileNames = profileNames
    }

    /// The completions of the word being typed at the end of `line` (the text before the cursor).
    public func candidates(line: String) -> [String] {
        let lastSegment = line.split(separator: ";", omittingEmptySubsequences: false).last.map(String.init) ?? line
        var words = lastSegment.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var current = ""
        if let last = lastSegment.last, last != " " && last != "\t", !words.isEmpty { current = words.removeLast() }
        return Array(Set(complete(words, current).filter { $0.hasPrefix(current) })).sorted()
    }

    private func complete(_ words: [String], _ current: String) -> [String] {
        guard let first = words.first else { return registry.commands.map(\.name) }
        guard var command = registry.command(named: first) else { return [] }
        var rest = Array(words.dropFirst())
        while !command.subcommands.isEmpty {
            guard let next = rest.first else { return command.subcommands.map(\.name) }
            guard let sub = command.subcommand(next) else { return [] }
            command = sub
            rest.removeFirst()
        }
        let flags = command.allFlags
        var positionals: [String] = []
        var i = 0
        while i < rest.count {
            let word = rest[i]
            if let flag = flags.first(where: { $0.names.contains(word) }) {
                if flag.valueName != nil && !flag.valueIsOptional {
                    i += 1
                }
            } else {
                positionals.append(word)
                if command.stopsAtFirstPositional {
                    return complete(Array(rest[i...]), current)
                }
            }
            i += 1
        }
        // The value of a flag just typed.
        if let previous = rest.last, let flag = flags.first(where: { $0.names.contains(previous) }),
            flag.valueName != nil, !flag.valueIsOptional
        {
            return values(of: flag.kind, positionals: positionals, current: current)
        }
        if current.hasPrefix("-") {
            let used = Set(rest)
            return flags.filter { f in !f.names.contains(where: used.contains) }.flatMap(\.names).filter {
                $0.hasPrefix("--") || current.count <= 2
            }
        }
        let index = positionals.count
        guard !command.positionals.isEmpty else { return [] }
        if index >= command.positionals.count && !command.variadic { return [] }
        let kind = command.positionals[min(index, command.positionals.count - 1)]
        return values(of: kind, positionals: positionals, current: current)
    }

    private func values(of kind: ArgumentKind, positionals: [String], current: String) -> [String] {
        switch kind {
        case .tuid:
            willUseServerValues()
            return cache.tuids
        case .group:
            willUseServerValues()
            return cache.groups + ["unassigned"]
        case .status: return InstallationStatus.allCases.map(\.rawValue)
        case .commandID: return CommandCatalog.ids.map(String.init)
        case .commandParameter:
            guard positionals.count >= 2, let id = Int(positionals[1]), let names = CommandCatalog.parameters[id] else {
                return []
            }
            let used = Set(positionals.dropFirst(2).compactMap { $0.split(separator: "=").first.map(String.init) })
            return names.filter { !used.contains($0) }.map { $0 + "=" }
        case .outputFormat: return OutputFormat.allCases.map(\.rawValue)
        case .helpTopic:
            if positionals.isEmpty { return registry.commands.map(\.name) + ["exit-codes"] }
            return registry.command(named: positionals[0])?.subcommands.map(\.name) ?? []
        case .field: return PlotFields.messageIDs.keys.sorted()
        case .command: return registry.commands.map(\.name).filter { $0 != "watch" }
        case .time: return ["now", "-1h", "-24h", "-7d"]
        case .column:
            // `--columns tuid,bat` completes the part after the last comma.
            let head = current.contains(",") ? String(current[...current.lastIndex(of: ",")!]) : ""
            return FleetColumn.allCases.map { head + $0.rawValue }
        case .ruleName: return ruleNames()
        case .profile: return profileNames()
        case .path: return Self.paths(completing: current)
        case .duration, .number, .text: return []
        }
    }

    /// Files and folders whose path starts with `prefix` (folders end in `/`); hidden ones only when asked for.
    static func paths(completing prefix: String) -> [String] {
        let slash = prefix.lastIndex(of: "/")
        let folder = slash.map { String(prefix[...$0]) } ?? ""
        let namePrefix = slash.map { String(prefix[prefix.index(after: $0)...]) } ?? prefix
        let expanded = folder.hasPrefix("~/") ? NSHomeDirectory() + folder.dropFirst() : folder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: expanded.isEmpty ? "." : expanded)
        else { return [] }
        return names.filter { $0.hasPrefix(namePrefix) && (!$0.hasPrefix(".") || namePrefix.hasPrefix(".")) }.map {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: expanded + $0, isDirectory: &isDirectory)
            return folder + $0 + (isDirectory.boolValue ? "/" : "")
        }
    }
}
