import ArgumentParser
import Foundation
import REPL
import Simulator
import Stream

/// `tsee sim`: serve the simulator in the foreground until SIGINT or SIGTERM.
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim", abstract: "Serve the built-in API simulator on loopback until interrupted.")

    @Option(help: "The port (0 picks a free one).") var port: UInt16 = 0
    @Option(help: "How many devices the virtual fleet has.") var devices = 40
    @Option(help: "The fleet's random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("token-ttl"), help: "Access token lifetime in seconds.") var tokenTTL: Double = 900
    @Option(name: .customLong("time-scale"), help: "Simulated seconds per real second.") var timeScale: Double = 1
    @Option(name: .customLong("fail-rate"), help: "Fraction of API requests answered 503.") var failRate: Double = 0
    @Option(name: .customLong("fail-every"), help: "Answer every Nth API request 503 (0: never).") var failEvery = 0
    @Option(name: .customLong("malformed-rate"), help: "Fraction of successful reads answered with a malformed body.")
    var malformedRate: Double = 0
    @Option(name: .customLong("malformed-every"), help: "Answer every Nth successful read with a malformed body (0: never).")
    var malformedEvery = 0
    @Option(name: .customLong("latency"), help: "Delay of every response in milliseconds.") var latency = 0
    @Option(name: .customLong("rate-limit"), help: "Requests per second before 429 (0: no limit).") var rateLimit = 0
    @Option(name: .customLong("echo-delay"), help: "Simulated seconds before a command's echo.") var echoDelay = 3.0
    @Option(name: .customLong("page-cap"), help: "At most N messages per page whatever limit asks (0: no cap).")
    var pageCap = 0
    @Option(name: .customLong("bad-items"), help: "Fraction of messages followed by an item a client cannot use.")
    var badItems: Double = 0
    @Option(
        name: .customLong("ambiguous-writes"),
        help: "Fraction of successful writes applied, then answered 504 or not at all (in turn).")
    var ambiguousWrites: Double = 0
    @Flag(name: .customLong("empty-write-bodies"), help: "Successful writes answer 204, an empty 200 or {\"data\":\"OK\"}.")
    var emptyWriteBodies = false
    @Flag(
        name: .customLong("no-fleet-alerts"),
        help: "GET /things/alerts and /things/alerts/count answer 403 Missing Authentication Token, as on a deployment without them.")
    var noFleetAlerts = false
    @Flag(name: .customLong("slow-body"), help: "Trickle every API answer but the token's, one byte at a time.")
    var slowBody = false
    @Option(name: .customLong("slow-body-interval"), help: "Milliseconds between the bytes of --slow-body.")
    var slowBodyInterval = 1_000
    @Flag(name: .customLong("endless-body"), help: "For tests of client limits: successful reads never end.")
    var endlessBody = false
    @Flag(name: .customLong("gzip-bomb"), help: "For tests of client limits: successful reads are a gzip bomb.")
    var gzipBomb = false
    @Option(name: .customLong("gzip-bomb-size"), help: "Bytes a --gzip-bomb answer inflates to.")
    var gzipBombSize = 1 << 30
    @Option(
        name: .customLong("mqtt"),
        help: "Also publish every device message as it reaches the API to this broker (mqtt://127.0.0.1:PORT).")
    var mqtt: String?

    func validate() throws {
        guard devices > 0 else { throw ValidationError("--devices must be positive") }
        guard timeScale > 0 else { throw ValidationError("--time-scale must be positive") }
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard (0...1).contains(malformedRate) else { throw ValidationError("--malformed-rate must be between 0 and 1") }
        guard pageCap >= 0 else { throw ValidationError("--page-cap must not be negative") }
        guard (0...1).contains(badItems) else { throw ValidationError("--bad-items must be between 0 and 1") }
        guard (0...1).contains(ambiguousWrites) else {
            throw ValidationError("--ambiguous-writes must be between 0 and 1")
        }
        guard slowBodyInterval >= 0 else { throw ValidationError("--slow-body-interval must not be negative") }
        guard gzipBombSize > 0 else { throw ValidationError("--gzip-bomb-size must be positive") }
    }

    func run() async throws {
        var c = SimulatorConfiguration()
        c.port = port
        c.devices = devices
        c.seed = seed
        c.tokenTTL = tokenTTL
        c.timeScale = timeScale
        c.failRate = failRate
        c.failEvery = failEvery
        c.malformedRate = malformedRate
        c.malformedEvery = malformedEvery
        c.latencyMs = latency
        c.rateLimit = rateLimit
        c.echoDelay = echoDelay
        c.pageCap = pageCap
        c.badItemRate = badItems
        c.ambiguousWriteRate = ambiguousWrites
        c.emptyWriteBodies = emptyWriteBodies
        c.fleetAlertCalls = !noFleetAlerts
        c.slowBody = slowBody
        c.slowBodyByteIntervalMs = slowBodyInterval
        c.endlessBody = endlessBody
        c.gzipBomb = gzipBomb
        c.gzipBombBytes = gzipBombSize
        let server = SimulatorServer(configuration: c)
        let url = try await server.start()
        var publisher: FleetPublisher?
        if let mqtt {
            do {
                let started = try FleetPublisher(server: server, url: mqtt)
                try await started.start()
                publisher = started
            } catch let error as StreamError where error.kind == .plainTextNotLoopback || error.kind == .invalidURL {
                await server.stop()
                FileHandle.standardError.write(Data("tsee sim: --mqtt: \(error.message)\n".utf8))
                throw ExitCode(ExitStatus.usage.rawValue)
            } catch {
                await server.stop()
                throw error
            }
        }
        let text = """
            tsee sim: serving \(devices) devices (seed \(seed)) at \(url.absoluteString); Ctrl-C stops it
            export THINGSEE_BASE_URL=\(url.absoluteString)
            export THINGSEE_CLIENT_ID=\(c.clientID)
            export THINGSEE_CLIENT_SECRET=\(c.clientSecret)

            """
        FileHandle.standardOutput.write(Data(text.utf8))
        await waitForTermination()
        await publisher?.stop()
        await server.stop()
    }
}
