import Profiles
import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let profiles = CommandDefinition(
        name: "profiles", summary: "the deployments of the configuration file (never a secret)", usage: "[NAME]",
        positionals: [.profile], example: "profiles",
        notes: [
            "The file is $XDG_CONFIG_HOME/tsee/config.toml (default ~/.config/tsee/config.toml): default_profile, "
                + "[profile.NAME] tables (base_url, client_id, client_secret_file or client_secret_command, rules, "
                + "timezone, mqtt, mqtt_cert, mqtt_key, db) and [notify.NAME] webhooks (url, headers with "
                + "\"env:VAR\" values). Choose one with --profile NAME or TSEE_PROFILE; flags and environment "
                + "variables override what the profile says.",
            "Each profile keeps its database and history in $XDG_STATE_HOME/tsee/NAME/ (the built-in simulator: "
                + "sim/). A file others can read that holds a secret inline is refused.",
        ]
    ) { inv in
        try inv.expectPositionals(0, 1)
        guard let file = inv.context.configuration else {
            inv.note("no configuration file (\(ConfigurationFile.defaultPath())); `help profiles` shows its format")
            inv.emit(
                Rendered(data: ["profiles": .array([]), "notify": .array([])], table: Table(columns: ["profile"])))
            return
        }
        var names = file.profileNames
        if let name = inv.positionals.first {
            guard names.contains(name) else {
                let hint = Suggestion.closest(to: name, among: names).map { " (did you mean `\($0)`?)" } ?? ""
                throw CommandError.usage("no profile `\(name)`\(hint); profiles: \(names.joined(separator: ", "))")
            }
            names = [name]
        }
        var rows: [[String]] = []
        var list: [JSONValue] = []
        for name in names {
            let p = file.profiles[name]!
            var marks: [String] = []
            if name == file.defaultProfile { marks.append("default") }
            if name == inv.context.profileName { marks.append("in use") }
            rows.append([
                name, marks.joined(separator: ", "), p.baseURL ?? "(built-in simulator)", p.clientID ?? "-",
                p.secretSource, p.rules ?? "-", p.db ?? "-",
            ])
            func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
            list.append([
                "name": .string(name), "default": .bool(name == file.defaultProfile),
                "in_use": .bool(name == inv.context.profileName), "base_url": text(p.baseURL),
                "client_id": text(p.clientID), "client_secret": .string(p.secretSource), "rules": text(p.rules),
                "timezone": text(p.timezone), "mqtt": text(p.mqtt), "db": text(p.db),
            ])
        }
        let notify: [JSONValue] = file.notify.keys.sorted().map { name in
            let target = file.notify[name]!
            return [
                "name": .string(name), "url": .string(target.url),
                "headers": .array(target.headers.keys.sorted().map(JSONValue.string)),
            ]
        }
        var text = Table(
            columns: ["profile", "", "base url", "client id", "client secret", "rules", "db"], rows: rows
        ).render(colour: inv.console.colour)
        if !file.notify.isEmpty {
            text +=
                "notify targets: "
                + file.notify.keys.sorted().map { "\($0) (\(file.notify[$0]!.url))" }
                .joined(separator: ", ") + "\n"
        }
        inv.emit(
            Rendered(
                data: ["config": .string(file.path), "profiles": .array(list), "notify": .array(notify)],
                text: text))
    }
}
