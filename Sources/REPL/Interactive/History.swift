import CReadline
import Foundation

/// The REPL's history file: `$XDG_STATE_HOME/tsee/history`, mode 0600, appended line by line so that
/// concurrent sessions add to it without overwriting each other, and never given a line that may hold a secret.
public struct History: Sendable {
    public let path: String
    public var limit: Int32 = 2000

    public init(path: String) { self.path = path }

    /// `$XDG_STATE_HOME/tsee/history`, by default `~/.local/state/tsee/history`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        stateDirectory(environment: environment) + "/history"
    }

    /// `$XDG_STATE_HOME/tsee`, by default `~/.local/state/tsee`.
    public static func stateDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/tsee" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/state/tsee"
    }

    /// Creates the file (mode 0600) and its folder (0700) if needed, then loads it into readline's history.
    public func load() {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        if fd >= 0 {
            fchmod(fd, 0o600)
            close(fd)
        }
        _ = read_history(path)
        _ = history_truncate_file(path, limit)
        tsee_history_set_length_limit(limit)
    }

    /// Adds a line to the session's history and appends it to the file, unless it may hold a secret.
    public func record(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, Self.mayRecord(trimmed) else { return }
        add_history(trimmed)
        if append_history(1, path) != 0 {
            // The file vanished (deleted by hand): create it again with the right mode and retry once.
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            if fd >= 0 { close(fd) }
            _ = append_history(1, path)
        }
    }

    /// Whether a line is safe to keep: no `set` of a secret-looking name, no secret-looking word at all.
    public static func mayRecord(_ line: String) -> Bool {
        let lower = line.lowercased()
        for marker in ["secret", "token", "password", "passwd", "bearer", "apikey", "api_key", "credential"]
        where lower.contains(marker) {
            return false
        }
        return true
    }

    /// Whether a value looks like a credential: an `Authorization` value (`Bearer …`, `Basic …`) or a JWT.
    public static func looksLikeCredential(_ value: String) -> Bool {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let lower = trimmed.lowercased()
        if lower.hasPrefix("bearer ") || lower.hasPrefix("basic ") { return true }
        return trimmed.hasPrefix("eyJ") && trimmed.split(separator: ".").count >= 2
    }

    /// Whether a variable's name says it holds a secret.
    public static func isSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        return ["SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "CREDENTIAL"].contains { upper.contains($0) }
    }
}
