import ArgumentParser
import Profiles
import Foundation
import REPL
import Simulator
import ThingseeAPI

/// Where the API is and how to log in: flags, environment, a profile of the configuration file, or the built-in
/// simulator. Precedence: flags > environment > profile > defaults.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("base-url"),
        help: "The API's base URL (default: $THINGSEE_BASE_URL, else the profile's; with none, the built-in simulator)."
    )
    var baseURL: String?

    @Option(name: .customLong("client-id"), help: "The client id (default: $THINGSEE_CLIENT_ID, else the profile's).")
    var clientID: String?

    @Option(
        name: .customLong("client-secret-file"),
        help:
            "A file holding the client secret (default: $THINGSEE_CLIENT_SECRET, else the profile's). Never pass a secret as a flag."
    )
    var clientSecretFile: String?

    @Option(
        name: .customLong("profile"),
        help: "A profile of $XDG_CONFIG_HOME/tsee/config.toml (default: $TSEE_PROFILE, else default_profile).")
    var profile: String?

    @Flag(name: .customLong("sim"), help: "Use the built-in simulator even when a base URL is configured.")
    var simulator = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "Say nothing about the built-in simulator starting.")
    var quiet = false

    @Option(
        name: .customLong("timeout"),
        help: "Each request's total deadline, body included (30s, 2m; default 30 s).")
    var timeout: String?

    @Option(
        name: .customLong("time-scale"),
        help: "With the built-in simulator: simulated seconds per real second (60 makes an hour pass in a minute).")
    var timeScale: Double?

    /// `--timeout` in seconds (default 30).
    func requestTimeout() throws -> Double {
        guard let timeout else { return 30 }
        guard let seconds = TimeExpression.duration(timeout), seconds > 0, seconds <= 86_400 else {
            throw ThingseeError.configuration("--timeout takes a duration such as 30s or 2m (at most 1d), not `\(timeout)`")
        }
        return Double(seconds)
    }

    /// What the flags, the environment and the configuration file say, before anything is started.
    struct Resolved {
        var configuration: ConfigurationFile?
        var profile: Profile?
        /// `nil`: the built-in simulator.
        var baseURL: String?
        /// Database and history: `$XDG_STATE_HOME/tsee/PROFILE/` (`sim` for the built-in simulator).
        var stateDirectory: String
        /// The default database (`--db` overrides it): a SQLite path or a `postgres://` URL.
        var databasePath: String
        /// The profile's `db_password_file`, expanded.
        var databasePasswordFile: String?
        var usesSimulator: Bool { baseURL == nil }
    }

    /// - Parameter readingConfiguration: `false` ignores the configuration file (for `help` when it is broken).
    func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment, readingConfiguration: Bool = true
    ) throws -> Resolved {
        let configuration: ConfigurationFile?
        do {
            configuration =
                readingConfiguration
                ? try ConfigurationFile.load(path: ConfigurationFile.defaultPath(environment: environment)) : nil
        } catch {
            throw ThingseeError.configuration(error.description)
        }
        var profile: Profile?
        if let configuration {
            do {
                profile = try configuration.selectedProfile(flag: self.profile, environment: environment)
            } catch {
                throw ThingseeError.configuration(error.description)
            }
        } else if readingConfiguration, let name = self.profile ?? environment["TSEE_PROFILE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            throw ThingseeError.configuration(
                "no profile `\(name)`: there is no configuration file at "
                    + "\(ConfigurationFile.defaultPath(environment: environment)) (see `tsee help profiles`)")
        }
        let base =
            simulator
            ? nil
            : baseURL ?? environment["THINGSEE_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
                ?? profile?.baseURL
        let root = History.stateDirectory(environment: environment)
        let directory = base == nil ? root + "/sim" : profile.map { root + "/" + $0.name } ?? root
        var database = directory + "/tsee.db"
        if base != nil, let db = profile?.db {
            let lower = db.lowercased()
            database =
                lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
                ? db : Profile.expand(db, environment: environment)
        }
        return Resolved(
            configuration: configuration, profile: profile, baseURL: base, stateDirectory: directory,
            databasePath: database,
            databasePasswordFile: base == nil
                ? nil : profile?.dbPasswordFile.map { Profile.expand($0, environment: environment) })
    }

    /// Opens the connection: a client for the configured API, or for a simulator started in-process (which is
    /// announced with `announce` unless `--quiet`).
    /// - Parameter retry: how retryable failures are retried; `tsee run` is more patient than an interactive command.
    /// - Parameter concurrency: requests in flight at once, and the size of the client's connection pool.
    func open(
        retry: RetryPolicy = RetryPolicy(), concurrency: Int = 8,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        announce: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) async throws -> Connection {
        let resolved = try resolve(environment: environment)
        if let timeScale, !(timeScale > 0) {
            throw ThingseeError.configuration("--time-scale takes a positive number, not \(timeScale)")
        }
        guard let base = resolved.baseURL else {
            var configuration = SimulatorConfiguration()
            configuration.port = 0
            configuration.devices = 40
            configuration.seed = 1
            configuration.timeScale = timeScale ?? 1
            let server = SimulatorServer(configuration: configuration)
            let url: URL
            do {
                url = try await server.start()
            } catch {
                throw ThingseeError.configuration("could not start the built-in simulator: \(error)")
            }
            let reason = simulator ? "--sim given" : "no THINGSEE_BASE_URL set"
            if !quiet { announce("tsee: \(reason); using the built-in simulator at \(url.absoluteString)") }
            let client = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: url.absoluteString, clientID: configuration.clientID,
                    clientSecret: Secret(configuration.clientSecret), retry: retry, timeout: try requestTimeout(),
                    concurrency: concurrency))
            return Connection(client: client, label: "sim", simulator: server, resolved: resolved)
        }
        if timeScale != nil {
            throw ThingseeError.configuration("--time-scale applies to the built-in simulator only (add --sim)")
        }
        let id = clientID ?? environment["THINGSEE_CLIENT_ID"] ?? resolved.profile?.clientID ?? ""
        let secret: String
        if let clientSecretFile {
            guard let data = FileManager.default.contents(atPath: clientSecretFile) else {
                throw ThingseeError.configuration("cannot read the client secret file \(clientSecretFile)")
            }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let fromEnvironment = environment["THINGSEE_CLIENT_SECRET"], !fromEnvironment.isEmpty {
            secret = fromEnvironment
        } else if let profile = resolved.profile, let fromProfile = try Self.secret(of: profile, environment) {
            secret = fromProfile
        } else {
            throw ThingseeError.configuration(
                "no client secret: set THINGSEE_CLIENT_SECRET, pass --client-secret-file FILE, or give the profile "
                    + "client_secret_file or client_secret_command")
        }
        let configuration = try ClientConfiguration(
            baseURL: base, clientID: id, clientSecret: Secret(secret), retry: retry, timeout: try requestTimeout(),
            concurrency: concurrency)
        return Connection(
            client: ThingseeClient(configuration: configuration),
            label: resolved.profile?.name ?? configuration.displayHost, simulator: nil, resolved: resolved)
    }

    private static func secret(of profile: Profile, _ environment: [String: String]) throws -> String? {
        do {
            return try profile.clientSecret(environment: environment)
        } catch {
            throw ThingseeError.configuration(error.description)
        }
    }
}

extension ConnectionOptions {
    /// A connection for commands that never call the API (`help`, `exit`, `log`): nothing is started, nobody logs
    /// in. Its client points at a closed port, so a call made by mistake fails as unreachable.
    func offline(
        environment: [String: String] = ProcessInfo.processInfo.environment, readingConfiguration: Bool = true
    ) throws -> Connection {
        let resolved = try resolve(environment: environment, readingConfiguration: readingConfiguration)
        let configuration = try ClientConfiguration(
            baseURL: "http://127.0.0.1:9/prod/v1", clientID: "offline", clientSecret: Secret("offline"))
        var label = "sim"
        if let base = resolved.baseURL {
            label =
                resolved.profile?.name
                ?? (try? ClientConfiguration(baseURL: base, clientID: "x", clientSecret: Secret("x")))?.displayHost
                ?? base
        }
        return Connection(
            client: ThingseeClient(configuration: configuration), label: label, simulator: nil, resolved: resolved)
    }
}

/// An open connection; `close()` stops the embedded simulator, if one was started.
struct Connection: Sendable {
    let client: ThingseeClient
    /// What the prompt shows: `sim`, the profile's name, or the API's host.
    let label: String
    let simulator: SimulatorServer?
    let configuration: ConfigurationFile?
    let profileName: String?
    /// The default database and the history file of this deployment.
    let databasePath: String
    let databasePasswordFile: String?
    let historyPath: String

    init(client: ThingseeClient, label: String, simulator: SimulatorServer?, resolved: ConnectionOptions.Resolved) {
        self.client = client
        self.label = label
        self.simulator = simulator
        self.configuration = resolved.configuration
        self.profileName = resolved.usesSimulator ? nil : resolved.profile?.name
        self.databasePath = resolved.databasePath
        self.databasePasswordFile = resolved.databasePasswordFile
        self.historyPath = resolved.stateDirectory + "/history"
    }

    func close() async {
        await client.shutdown()
        await simulator?.stop()
    }
}
