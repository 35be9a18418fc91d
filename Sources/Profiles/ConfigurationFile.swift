import Foundation
import TOMLKit
import ThingseeKit

/// `$XDG_CONFIG_HOME/tsee/config.toml`: profiles (deployments), the default one, and notification targets.
public struct ConfigurationFile: Sendable, Equatable {
    public var path: String
    public var defaultProfile: String?
    /// By name.
    public var profiles: [String: Profile]
    /// `[notify.NAME]` targets, by name.
    public var notify: [String: NotifyTarget]

    public init(
        path: String, defaultProfile: String? = nil, profiles: [String: Profile] = [:],
        notify: [String: NotifyTarget] = [:]
    ) {
        self.path = path
        self.defaultProfile = defaultProfile
        self.profiles = profiles
        self.notify = notify
    }

    /// Profile names, sorted.
    public var profileNames: [String] { profiles.keys.sorted() }

    /// `$XDG_CONFIG_HOME/tsee/config.toml`, by default `~/.config/tsee/config.toml`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/tsee/config.toml" }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.config/tsee/config.toml"
    }

    /// The file at `path`, or `nil` when there is none (the file is optional).
    ///
    /// A file that group or others may read and that holds a secret inline is refused.
    public static func load(path: String) throws(ConfigurationError) -> ConfigurationFile? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(path: path, "cannot read the configuration file")
        }
        let file = try parse(String(decoding: data, as: UTF8.self), path: path)
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o044 != 0, let where_ = file.inlineSecrets.first {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw ConfigurationError(
                path: path,
                "refused: others can read this file (mode \(mode)) and it holds a secret inline (\(where_)); "
                    + "use client_secret_file or client_secret_command (headers: \"env:VAR\" or \"file:PATH\"), "
                    + "or make the file private: chmod 600 \(path)")
        }
        return file
    }

    /// Where secrets are written inline: `profile.prod.client_secret`, `notify.ops.headers.Authorization`.
    public var inlineSecrets: [String] {
        var found: [String] = []
        for name in profileNames where profiles[name]!.hasInlineSecret { found.append("profile.\(name).client_secret") }
        for name in notify.keys.sorted() {
            for (header, value) in notify[name]!.headers.sorted(by: { $0.key < $1.key })
            where NotifyTarget.isSecretHeader(header) && !value.hasPrefix("env:") && !value.hasPrefix("file:") {
                found.append("notify.\(name).headers.\(header)")
            }
        }
        return found
    }

    static let profileKeys = [
        "base_url", "client_id", "client_secret_file", "client_secret_command", "client_secret", "rules", "timezone",
        "mqtt", "mqtt_cert", "mqtt_key", "mqtt_ca", "mqtt_client_id", "db", "db_password_file",
    ]

    /// Parses the text of a configuration file; unknown keys are errors (with a did-you-mean), so a typo never
    /// silently falls back to a default.
    public static func parse(_ text: String, path: String) throws(ConfigurationError) -> ConfigurationFile {
        let root: [String: Any]
        do {
            let table = try TOMLTable(string: text)
            let json = table.convert(to: .json)
            root = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
        } catch let error as TOMLParseError {
            throw ConfigurationError(
                path: path, line: Int(error.source.begin.line), column: Int(error.source.begin.column),
                error.description)
        } catch {
            throw ConfigurationError(path: path, "not a TOML file: \(error)")
        }
        var file = ConfigurationFile(path: path)
        for key in root.keys.sorted() where !["default_profile", "profile", "notify"].contains(key) {
            throw unknown(key, in: "the top level", among: ["default_profile", "profile", "notify"], path: path)
        }
        if let value = root["default_profile"] {
            guard let name = value as? String else { throw ConfigurationError(path: path, "default_profile is text") }
            file.defaultProfile = name
        }
        for (name, value) in try tables(root["profile"], "profile", path: path) {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }),
                !name.hasPrefix(".")
            else {
                throw ConfigurationError(
                    path: path,
                    "[profile.\(name)]: a profile name is letters, digits, `-`, `_` and `.` (it names a folder)")
            }
            guard name != "sim" else {
                throw ConfigurationError(
                    path: path, "[profile.sim]: `sim` is reserved for the built-in simulator's state; pick another name"
                )
            }
            var profile = Profile(name: name)
            for (key, raw) in value.sorted(by: { $0.key < $1.key }) {
                guard profileKeys.contains(key) else {
                    throw unknown(key, in: "[profile.\(name)]", among: profileKeys, path: path)
                }
                guard let text = raw as? String else {
                    throw ConfigurationError(path: path, "[profile.\(name)] \(key) must be text (in quotes)")
                }
                switch key {
                case "base_url": profile.baseURL = text
                case "client_id": profile.clientID = text
                case "client_secret_file": profile.clientSecretFile = text
                case "client_secret_command": profile.clientSecretCommand = text
                case "client_secret": profile.inlineSecret = text
                case "rules": profile.rules = text
                case "timezone": profile.timezone = text
                case "mqtt": profile.mqtt = text
                case "mqtt_cert": profile.mqttCert = text
                case "mqtt_key": profile.mqttKey = text
                case "mqtt_ca": profile.mqttCA = text
                case "mqtt_client_id": profile.mqttClientID = text
                case "db": profile.db = text
                default: profile.dbPasswordFile = text
                }
            }
            let sources = [profile.clientSecretFile, profile.clientSecretCommand, profile.inlineSecret].compactMap {
                $0
            }
            if sources.count > 1 {
                throw ConfigurationError(
                    path: path, "[profile.\(name)] gives the client secret more than one way: keep one")
            }
            file.profiles[name] = profile
        }
        for (name, value) in try tables(root["notify"], "notify", path: path) {
            for key in value.keys.sorted() where !["url", "headers"].contains(key) {
                throw unknown(key, in: "[notify.\(name)]", among: ["url", "headers"], path: path)
            }
            guard let url = value["url"] as? String else {
                throw ConfigurationError(path: path, "[notify.\(name)] needs url = \"https://…\"")
            }
            var headers: [String: String] = [:]
            if let raw = value["headers"] {
                guard let table = raw as? [String: Any] else {
                    throw ConfigurationError(path: path, "[notify.\(name)] headers is a table: { Name = \"value\" }")
                }
                for (header, v) in table {
                    guard let text = v as? String else {
                        throw ConfigurationError(path: path, "[notify.\(name)] header \(header) must be text")
                    }
                    headers[header] = text
                }
            }
            file.notify[name] = NotifyTarget(name: name, url: url, headers: headers)
        }
        if let name = file.defaultProfile, file.profiles[name] == nil {
            throw ConfigurationError(
                path: path,
                "default_profile is \"\(name)\", but there is no [profile.\(name)]"
                    + (file.profileNames.isEmpty ? "" : " (profiles: \(file.profileNames.joined(separator: ", ")))"))
        }
        return file
    }

    private static func tables(_ value: Any?, _ section: String, path: String) throws(ConfigurationError) -> [(
        String, [String: Any]
    )] {
        guard let value else { return [] }
        guard let outer = value as? [String: Any] else {
            throw ConfigurationError(path: path, "`\(section)` must hold tables: [\(section).NAME]")
        }
        var result: [(String, [String: Any])] = []
        for name in outer.keys.sorted() {
            guard let inner = outer[name] as? [String: Any] else {
                throw ConfigurationError(path: path, "[\(section).\(name)] must be a table")
            }
            result.append((name, inner))
        }
        return result
    }

    private static func unknown(_ key: String, in place: String, among known: [String], path: String)
        -> ConfigurationError
    {
        let hint = closest(key, among: known).map { "; did you mean `\($0)`?" } ?? ""
        return ConfigurationError(path: path, "unknown key `\(key)` in \(place)\(hint)")
    }

    /// The profile to use: the flag's, else `TSEE_PROFILE`'s, else `default_profile`; `nil` for none.
    public func selectedProfile(flag: String?, environment: [String: String]) throws(ConfigurationError)
        -> Profile?
    {
        guard let name = flag ?? environment["TSEE_PROFILE"].flatMap({ $0.isEmpty ? nil : $0 }) ?? defaultProfile
        else { return nil }
        guard let profile = profiles[name] else {
            let hint = Self.closest(name, among: profileNames).map { " (did you mean `\($0)`?)" } ?? ""
            throw ConfigurationError(
                path: path,
                "no profile `\(name)`\(hint); profiles: \(profileNames.isEmpty ? "none" : profileNames.joined(separator: ", "))"
            )
        }
        return profile
    }

    static func closest(_ word: String, among candidates: [String]) -> String? {
        EditDistance.closest(to: word, in: candidates, allowed: max(1, word.count / 3))
    }
}
