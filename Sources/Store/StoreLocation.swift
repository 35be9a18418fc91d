import Foundation

/// Where a ``Store`` lives, as `--db` or a profile's `db` names it: a SQLite file, or a PostgreSQL database.
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresURL)

    /// `postgres://…` or `postgresql://…` is a PostgreSQL database; anything else is a SQLite file's path.
    public static func parse(_ text: String) throws -> StoreLocation {
        let lower = text.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            return .postgres(try PostgresURL.parse(text))
        }
        return .sqlite(path: text)
    }

    /// The path, or the URL without any password.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url): url.description
        }
    }

    /// Whether a reader (`tsee log`, `rules explain`) has something to read: the file exists. A server is assumed
    /// to exist; opening it says otherwise.
    public var mayHoldState: Bool {
        switch self {
        case .sqlite(let path): FileManager.default.fileExists(atPath: path)
        case .postgres: true
        }
    }

    /// Opens the store (creating or migrating its schema).
    ///
    /// - Parameter passwordFile: a profile's `db_password_file`, for PostgreSQL.
    /// - Parameter environment: where `PGPASSWORD`, `PGPASSFILE` and `HOME` are read.
    public func open(
        passwordFile: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> any Store {
        switch self {
        case .sqlite(let path):
            return try SQLiteStore(path: path)
        case .postgres(let url):
            let password = try PostgresPassword.resolve(for: url, passwordFile: passwordFile, environment: environment)
            return try await PostgresStore.open(url, password: password)
        }
    }
}

/// `postgres://USER@HOST:PORT/DB?sslmode=MODE`: a PostgreSQL database, never with its password (which comes from
/// `PGPASSWORD`, `~/.pgpass` or a profile's `db_password_file`, so that it is not in a command line or a log).
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    /// How the connection is encrypted, after libpq's `sslmode`.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, plain TCP otherwise (libpq's default). The certificate is not verified.
        case prefer
        /// TLS or no connection. The certificate is not verified (as libpq's `require`).
        case require
        /// TLS, with the certificate verified against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode

    public init(user: String, host: String, port: Int = 5432, database: String, sslMode: SSLMode = .prefer) {
        self.user = user
        self.host = host
        self.port = port
        self.database = database
        self.sslMode = sslMode
    }

    public static func parse(_ text: String) throws -> PostgresURL {
        func refuse(_ why: String) -> StoreError {
            StoreError(
                kind: .invalidLocation, code: StoreError.Code.misuse,
                message: why + "; the form is postgres://USER@HOST:PORT/DB?sslmode=disable|prefer|require|verify-full",
                operation: "read the database URL")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "postgres" || scheme == "postgresql"
        else { throw refuse("not a postgres:// URL") }
        // Never echo the URL: it may hold a password.
        if components.password != nil {
            throw refuse(
                "the URL holds a password, which would show in process lists and logs: leave it out and set "
                    + "PGPASSWORD, a line in ~/.pgpass, or the profile's db_password_file")
        }
        guard let host = components.host, !host.isEmpty else { throw refuse("the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw refuse("the URL names no user (USER@HOST)") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else { throw refuse("the URL names no database (/DB)") }
        var mode = SSLMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw refuse("sslmode must be one of disable, prefer, require, verify-full")
                }
                mode = value
            default:
                throw refuse("unknown URL option '\(item.name)'")
            }
        }
        return PostgresURL(
            user: user.removingPercentEncoding ?? user, host: host, port: components.port ?? 5432,
            database: path.removingPercentEncoding ?? path, sslMode: mode)
    }

    public var description: String {
        let mode = sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)"
        return "postgres://\(user)@\(host):\(port)/\(database)\(mode)"
    }
}

/// Where a PostgreSQL password comes from, in order: `PGPASSWORD`, the profile's `db_password_file`, then
/// `PGPASSFILE` or `~/.pgpass` (libpq's format: `host:port:database:user:password`, `*` matching anything).
public enum PostgresPassword {
    public static func resolve(
        for url: PostgresURL, passwordFile: String?, environment: [String: String]
    ) throws -> String? {
        if let password = environment["PGPASSWORD"], !password.isEmpty { return password }
        if let passwordFile {
            guard let data = FileManager.default.contents(atPath: passwordFile),
                let text = String(data: data, encoding: .utf8)
            else {
                throw StoreError(
                    kind: .invalidLocation, code: StoreError.Code.cantOpen,
                    message: "cannot read db_password_file \(passwordFile)", operation: "open \(url)")
            }
            return text.trimmingCharacters(in: .newlines)
        }
        let path =
            environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { $0 + "/.pgpass" }
        guard let path, let data = FileManager.default.contents(atPath: path),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            throw StoreError(
                kind: .invalidLocation, code: StoreError.Code.cantOpen,
                message: "the password file \(path) can be read by others; chmod 0600 it (as libpq requires)",
                operation: "open \(url)")
        }
        return match(text, url: url)
    }

    /// The password of the first line of a `.pgpass` text that matches `url`.
    public static func match(_ text: String, url: PostgresURL) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            let fields = split(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [url.host, String(url.port), url.database, url.user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// Splits at unescaped `:`; `\:` and `\\` stand for themselves.
    private static func split(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        fields.append(current)
        return fields
    }
}
