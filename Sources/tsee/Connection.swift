import ArgumentParser
import Foundation
import REPL
import Simulator
import ThingseeAPI

/// Where the API is and how to log in: flags, environment, secret file, or the built-in simulator.
struct ConnectionOptions: ParsableArguments {
    @Option(
        name: .customLong("base-url"),
        help: "The API's base URL (default: $THINGSEE_BASE_URL; with neither, the built-in simulator).")
    var baseURL: String?

    @Option(name: .customLong("client-id"), help: "The client id (default: $THINGSEE_CLIENT_ID).")
    var clientID: String?

    @Option(
        name: .customLong("client-secret-file"),
        help: "A file holding the client secret (default: $THINGSEE_CLIENT_SECRET). Never pass a secret as a flag.")
    var clientSecretFile: String?

    @Flag(name: .customLong("sim"), help: "Use the built-in simulator even when a base URL is configured.")
    var simulator = false

    @Option(
        name: .customLong("time-scale"),
        help: "With the built-in simulator: simulated seconds per real second (60 makes an hour pass in a minute).")
    var timeScale: Double?

    /// Opens the connection: a client for the configured API, or for a simulator started in-process (which is
    /// announced with `announce`).
    /// - Parameter retry: how retryable failures are retried; `tsee run` is more patient than an interactive command.
    /// - Parameter concurrency: requests in flight at once, and the size of the client's connection pool.
    func open(
        retry: RetryPolicy = RetryPolicy(), concurrency: Int = 8,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        announce: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    ) async throws -> Connection {
        let base = baseURL ?? environment["THINGSEE_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let timeScale, !(timeScale > 0) {
            throw ThingseeError.configuration("--time-scale takes a positive number, not \(timeScale)")
        }
        if simulator || base == nil {
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
            announce("tsee: \(reason); using the built-in simulator at \(url.absoluteString)")
            let client = ThingseeClient(
                configuration: try ClientConfiguration(
                    baseURL: url.absoluteString, clientID: configuration.clientID,
                    clientSecret: Secret(configuration.clientSecret), retry: retry, concurrency: concurrency))
            return Connection(client: client, label: "sim", simulator: server)
        }
        if timeScale != nil {
            throw ThingseeError.configuration("--time-scale applies to the built-in simulator only (add --sim)")
        }
        let id = clientID ?? environment["THINGSEE_CLIENT_ID"] ?? ""
        let secret: String
        if let clientSecretFile {
            guard let data = FileManager.default.contents(atPath: clientSecretFile) else {
                throw ThingseeError.configuration("cannot read the client secret file \(clientSecretFile)")
            }
            secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let fromEnvironment = environment["THINGSEE_CLIENT_SECRET"], !fromEnvironment.isEmpty {
            secret = fromEnvironment
        } else {
            throw ThingseeError.configuration(
                "no client secret: set THINGSEE_CLIENT_SECRET or pass --client-secret-file FILE")
        }
        let configuration = try ClientConfiguration(
            baseURL: base!, clientID: id, clientSecret: Secret(secret), retry: retry, concurrency: concurrency)
        return Connection(
            client: ThingseeClient(configuration: configuration), label: configuration.displayHost, simulator: nil)
    }
}

extension ConnectionOptions {
    /// A connection for commands that never call the API (`help`, `exit`): nothing is started, nobody logs
    /// in. Its client points at a closed port, so a call made by mistake fails as unreachable.
    func offline(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Connection {
        let base = baseURL ?? environment["THINGSEE_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let configuration = try ClientConfiguration(
            baseURL: "http://127.0.0.1:9/prod/v1", clientID: "offline", clientSecret: Secret("offline"))
        var label = "sim"
        if !simulator, let base {
            label = (try? ClientConfiguration(baseURL: base, clientID: "x", clientSecret: Secret("x")))?.displayHost ?? base
        }
        return Connection(client: ThingseeClient(configuration: configuration), label: label, simulator: nil)
    }
}

/// An open connection; `close()` stops the embedded simulator, if one was started.
struct Connection: Sendable {
    let client: ThingseeClient
    /// What the prompt shows: `sim`, or the API's host.
    let label: String
    let simulator: SimulatorServer?

    func close() async {
        await client.shutdown()
        await simulator?.stop()
    }
}
