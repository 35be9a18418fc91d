import Foundation

/// A `[notify.NAME]` entry: a webhook that rule actions `notify NAME` post to.
public struct NotifyTarget: Sendable, Equatable {
    public var name: String
    public var url: String
    /// Header values as written: `env:VAR` (from the environment), `file:PATH` (a file's contents), or literal.
    public var headers: [String: String]

    public init(name: String, url: String, headers: [String: String] = [:]) {
        self.name = name
        self.url = url
        self.headers = headers
    }

    /// The headers with `env:` and `file:` values read; a missing variable or file is an error naming it.
    public func resolvedHeaders(environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(ConfigurationError) -> [String: String]
    {
        var resolved: [String: String] = [:]
        for (key, value) in headers {
            if value.hasPrefix("env:") {
                let variable = String(value.dropFirst(4))
                guard let v = environment[variable], !v.isEmpty else {
                    throw ConfigurationError("notify \(name): header \(key) needs the environment variable \(variable)")
                }
                resolved[key] = v
            } else if value.hasPrefix("file:") {
                let path = Profile.expand(String(value.dropFirst(5)), environment: environment)
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ConfigurationError("notify \(name): header \(key): cannot read \(path)")
                }
                resolved[key] = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                resolved[key] = value
            }
        }
        return resolved
    }

    /// Header names whose literal value is a secret when written inline.
    static func isSecretHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return ["authorization", "token", "key", "secret", "password", "cookie", "signature"].contains {
            lower.contains($0)
        }
    }
}
