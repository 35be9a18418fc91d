import Foundation

/// One `[profile.NAME]` of the configuration file: a deployment and how to reach it.
public struct Profile: Sendable, Equatable {
    public var name: String
    public var baseURL: String?
    public var clientID: String?
    /// A file holding the client secret (`~` is the home folder).
    public var clientSecretFile: String?
    /// A shell command that prints the client secret (`pass show thingsee/prod`).
    public var clientSecretCommand: String?
    /// A secret written in the file itself (accepted only in a file no one else can read).
    var inlineSecret: String?
    /// Rule files or folders for `tsee run`.
    public var rules: String?
    /// An IANA time zone name for rule files that name none.
    public var timezone: String?
    public var mqtt: String?
    public var mqttCert: String?
    public var mqttKey: String?
    public var mqttCA: String?
    public var mqttClientID: String?
    /// The database: a SQLite path or a `postgres://` URL.
    public var db: String?
    public var dbPasswordFile: String?

    public init(name: String) { self.name = name }

    /// Where the secret comes from, for `profiles` (never the secret itself).
    public var secretSource: String {
        if let clientSecretFile { return "file \(clientSecretFile)" }
        if clientSecretCommand != nil { return "command" }
        if inlineSecret != nil { return "inline (file mode 0600)" }
        return "-"
    }

    /// Whether a secret is written in the file.
    public var hasInlineSecret: Bool { inlineSecret != nil }

    /// The client secret: read from the file, printed by the command, or written inline; `nil` when the profile
    /// names none.
    public func clientSecret(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> String?
    {
        if let clientSecretFile {
            let path = Self.expand(clientSecretFile, environment: environment)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("profile \(name): cannot read client_secret_file \(path)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let clientSecretCommand {
            return try Self.run(clientSecretCommand, profile: name)
        }
        return inlineSecret
    }

    /// `~/x` → `$HOME/x`.
    public static func expand(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> String
    {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        return (environment["HOME"] ?? NSHomeDirectory()) + path.dropFirst()
    }

    /// Runs `command` with `/bin/sh -c` and returns what it printed, trimmed; a failure names the exit status only
    /// (its output may hold part of a secret).
    static func run(_ command: String, profile: String) throws(ConfigurationError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        // Not `waitUntilExit()`: on Linux it spins the thread's empty run loop (a busy loop) until the child ends.
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            throw ConfigurationError("profile \(profile): cannot run client_secret_command: \(error)")
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        exited.wait()
        guard process.terminationStatus == 0 else {
            throw ConfigurationError(
                "profile \(profile): client_secret_command exited with status \(process.terminationStatus)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else {
            throw ConfigurationError("profile \(profile): client_secret_command printed nothing")
        }
        return secret
    }
}
