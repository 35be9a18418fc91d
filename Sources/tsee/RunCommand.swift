import ArgumentParser
import Automation
import Foundation
import Synchronization
import Logging
import Metrics
import Profiles
import Prometheus
import Service
import REPL
import Rules
import Store
import Stream
import ThingseeAPI

/// `tsee run [RULES…]`: the scheduler.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Poll the fleet, evaluate rules, carry out their actions once each, and log them to SQLite.",
        discussion: """
            Refuses to start when a rule file has an error. One summary line per cycle goes to stderr. SIGINT or
            SIGTERM finish the cycle in flight and exit 0. With --once, the exit code is 0 for a clean cycle,
            3 when authentication failed, 4 when no device could be polled, 5 when some polls or actions failed.
            With --mqtt, devices are evaluated as their messages arrive on the data integration stream, and messages
            are not polled while it is up (each connection's gap is backfilled from the REST API first).
            """)

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var stream: StreamOptions

    @Argument(help: "Rule files or directories of .rules files (default: ./rules).")
    var rules: [String] = []

    @Option(help: "Time between the starts of two cycles (90, 30s, 5m, 1h).")
    var interval = "60s"

    @Flag(help: "Run one cycle and exit.")
    var once = false

    @Flag(name: .customLong("dry-run"), help: "Change nothing: log would-be actions with dry_run = 1.")
    var dryRun = false

    @Option(help: "How far back the first fetch of a device reaches.")
    var lookback = "24h"

    @Option(help: "Requests in flight at once.")
    var concurrency = 8

    @Option(name: .customLong("confirm-timeout"), help: "Mark a sent command unconfirmed when its echo is this late.")
    var confirmTimeout = "15m"

    @Option(help: "How often the device list, alerts, installation status and thing info are fetched again.")
    var refresh = "10m"

    @Option(
        name: .customLong("db"),
        help: """
            A SQLite file, or postgres://USER@HOST:PORT/DB[?sslmode=disable|prefer|require|verify-full] to share the \
            fleet with other processes (default: $XDG_STATE_HOME/tsee/PROFILE/tsee.db).
            """)
    var database: String?

    @Option(help: "With PostgreSQL: how long a device lease lasts unless renewed (default: 3 × --interval).")
    var lease: String?

    @Option(
        name: .customLong("mqtt-share-group"),
        help: ArgumentHelp(
            "With PostgreSQL and --mqtt: the MQTT shared subscription group of the schedulers sharing the fleet "
                + "(default: tsee- and a hash of the database's host, port and name).",
            valueName: "NAME"))
    var shareGroup: String?

    @Option(
        name: .customLong("lock-wait"),
        help: "How long to wait for another `tsee run` on the same database to finish before refusing.")
    var lockWait = "30s"

    @Option(
        name: .customLong("notify-timeout"),
        help: "Give up a notification the webhook has not accepted (2xx) this long after its firing.")
    var notifyTimeout = "1h"

    @Option(
        name: .customLong("max-auth-failures"),
        help: "Exit 3 after this many cycles in a row whose login was refused (0: never).")
    var maxAuthFailures = 3

    @Flag(
        name: .customLong("reset-cursors"),
        help: "Forget saved cursors that lie in the API's future (a restored backup, a time-scaled run).")
    var resetCursors = false

    @Option(
        name: .customLong("metrics-listen"),
        help: "Serve /metrics (Prometheus) and /healthz on HOST:PORT, e.g. 127.0.0.1:9464 (loopback only by default).")
    var metricsListen: String?

    @Flag(name: .customLong("metrics-listen-public"), help: "Allow --metrics-listen on a non-loopback address.")
    var metricsListenPublic = false

    @Option(name: .customLong("log-format"), help: "text or json (one object per line).")
    var logFormat = "text"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func duration(_ text: String, _ flag: String) throws -> Int64 {
        guard let seconds = TimeExpression.duration(text), seconds > 0 else {
            throw ValidationError("--\(flag) takes a duration such as 90, 30s, 5m or 1h, not `\(text)`")
        }
        return seconds
    }

    mutating func run() async throws {
        let console = Console.standard()
        var options = SchedulerOptions()
        options.interval = Double(try duration(interval, "interval"))
        options.lookback = try duration(lookback, "lookback")
        options.confirmTimeout = try duration(confirmTimeout, "confirm-timeout")
        options.refresh = try duration(refresh, "refresh")
        options.dryRun = dryRun
        guard concurrency > 0 else { throw ValidationError("--concurrency takes a positive number") }
        options.concurrency = concurrency
        guard maxAuthFailures >= 0 else { throw ValidationError("--max-auth-failures takes 0 or more") }
        options.maxAuthFailures = maxAuthFailures
        options.notifyTimeout = try duration(notifyTimeout, "notify-timeout")
        // A stream's messages are evaluated in steps at most 20 ms apart (see `SchedulerOptions.streamGather`).
        options.streamGather = .milliseconds(20)
        let lockWait: Int64 = lockWait == "0" ? 0 : try duration(lockWait, "lock-wait")
        guard let format = LogOutput.Format(rawValue: logFormat) else {
            throw ValidationError("--log-format takes text or json, not `\(logFormat)`")
        }
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level takes trace, debug, info, notice, warning, error or critical")
        }
        let metricsAddress: MetricsServer.Address?
        do {
            metricsAddress = try metricsListen.map { try MetricsServer.Address.parse($0, allowPublic: metricsListenPublic) }
        } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { _ in
            LogOutput(format: format, logLevel: level, write: { console.err($0) })
        }
        let logger = Logger(label: "tsee.run")

        // Rules first: a broken rule file sends nothing, not even a login.
        let ruleSet: RuleSet
        do {
            let (loaded, diagnostics, files) = try RuleFiles.load(rules.isEmpty ? ["rules"] : rules)
            for diagnostic in diagnostics { console.err(diagnostic.description + "\n") }
            if diagnostics.hasErrors {
                console.err("tsee run: not started: fix the errors above (`tsee rules check` lists them)\n")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            ruleSet = loaded
            console.err("tsee run: \(loaded.rules.count) rules from \(files.count) files\(dryRun ? ", dry run" : "")\n")
        } catch let error as RuleFiles.ReadError {
            console.err("tsee run: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }

        let location: StoreLocation
        let passwordFile: String?
        let resolved: ConnectionOptions.Resolved
        let databaseName: String
        do {
            resolved = try connection.resolve()
            databaseName = database ?? resolved.databasePath
            location = try StoreLocation.parse(databaseName)
            passwordFile = resolved.databasePasswordFile
        } catch {
            console.err("tsee run: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        // The stream's settings are checked before anything is sent: a plain mqtt:// to another host, a missing
        // certificate file.
        var streamConfiguration: StreamConfiguration?
        do {
            let active = Engine(ruleSet).rules.filter { $0.mode != .off }
            streamConfiguration = try stream.configuration(
                profile: resolved.usesSimulator ? nil : resolved.profile,
                stableName: location.streamClientName(databaseName),
                defaultTopics: StreamSource.topics(groups: active.map(\.groups), tuids: active.map(\.tuids)))
        } catch let error as ValidationError {
            console.err("tsee run: not started: \(error.message)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        if streamConfiguration != nil, once {
            console.err("tsee run: --once polls; --mqtt is for a continuous run and is not used\n")
        }
        // SQLite: one scheduler per database; a second one waits (a service restart overlaps the old process's
        // last cycle), then refuses. Taken before the database is written, released when the process ends.
        // PostgreSQL: several schedulers share the fleet through device leases instead.
        var lock: RunLock?
        var leases: LeaseSettings?
        switch location {
        case .sqlite(let path):
            do {
                lock = try await RunLock.acquire(databasePath: path, wait: .seconds(lockWait), clock: ContinuousClock())
            } catch {
                console.err("tsee run: not started: \(error)\n")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
        case .postgres:
            let seconds = try lease.map { try duration($0, "lease") } ?? 3 * Int64(options.interval.rounded(.up))
            guard Double(seconds) > options.interval else {
                throw ValidationError("--lease must be longer than --interval: a lease is renewed once a cycle")
            }
            // A dry run changes nothing and keeps its state apart: it evaluates every device, taking none from the
            // live processes.
            leases = dryRun ? nil : LeaseSettings.thisProcess(seconds: seconds)
        }
        // Schedulers sharing the fleet share the stream too: the broker hands each message to one of them.
        if case .postgres(let url) = location, leases != nil, let configuration = streamConfiguration {
            do {
                streamConfiguration = try configuration.shared(group: shareGroup ?? StreamOptions.shareGroup(for: url))
            } catch let error as StreamError {
                console.err("tsee run: not started: --mqtt-share-group: \(error.message)\n")
                throw ExitCode(ExitStatus.usage.rawValue)
            }
        } else if shareGroup != nil {
            console.err("tsee run: not started: --mqtt-share-group needs --mqtt and a postgres:// --db (and no --dry-run)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        defer { withExtendedLifetime(lock) {} }
        let store: any Store
        do {
            store = try await location.open(passwordFile: passwordFile)
        } catch {
            console.err("tsee run: cannot open the database: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        let connection: Connection
        do {
            // Unattended, with up to `concurrency` requests in flight: a request can meet several of a degraded
            // API's failures in a row, so it gets more attempts than an interactive command (about 25 s of backoff
            // at most) before its device is reported as failed for the cycle.
            connection = try await self.connection.open(retry: RetryPolicy(maxAttempts: 10), concurrency: concurrency)
        } catch {
            console.err("tsee run: \(error)\n")
            throw ExitCode(ExitStatus.of(error).rawValue)
        }
        do {
            try await checkDeployment(store: store, connection: connection, console: console)
        } catch {
            await connection.close()
            throw error
        }
        // Service operation: metrics and health when asked for, systemd's notifications when run under it.
        let health = Health(interval: options.interval, started: Date().timeIntervalSince1970)
        var metricsServer: MetricsServer?
        if let metricsAddress {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let server = MetricsServer(address: metricsAddress, registry: registry, health: health)
            do {
                let port = try await server.start()
                console.err("tsee run: metrics on http://\(metricsAddress.host):\(port)/metrics and /healthz\n")
            } catch {
                console.err("tsee run: not started: \(error)\n")
                await connection.close()
                throw ExitCode(ExitStatus.usage.rawValue)
            }
            metricsServer = server
        }
        let notifier = SystemdNotifier()
        let cyclesSeen = Mutex(0)
        let source = once ? nil : streamConfiguration.map { StreamSource(configuration: $0, logger: logger) }
        if let streamConfiguration, source != nil {
            console.err(
                "tsee run: stream \(streamConfiguration.broker.usesTLS ? "mqtts" : "mqtt")://"
                    + "\(streamConfiguration.broker.host):\(streamConfiguration.broker.port), "
                    + "topics \(streamConfiguration.subscriptions.joined(separator: " ")), "
                    + "client id \(streamConfiguration.clientID)\n")
        }
        let scheduler = Scheduler(
            client: connection.client, engine: Engine(ruleSet), store: store, options: options, logger: logger,
            stream: source,
            observer: { report in
                health.cycleEnded(at: Date().timeIntervalSince1970, authenticationRefused: report.authenticationFailed)
                let first = cyclesSeen.withLock { n -> Bool in
                    n += 1
                    return n == 1
                }
                if first { notifier.ready(status: report.line) } else { notifier.status(report.line) }
                notifier.watchdog()
            }, webhooks: Self.webhooks(connection.configuration?.notify ?? [:]), leases: leases)
        let ruleArguments = rules.isEmpty ? ["rules"] : rules
        Signals.setHandler(SIGHUP) { _ in
            Task { await Self.reload(ruleArguments, into: scheduler, console: console) }
        }

        if once {
            let report = await scheduler.runCycle()
            await connection.close()
            if dryRun {
                for action in report.wouldBe { console.out("would: \(action.rule) \(action.tuid) \(action.action)\n") }
            }
            let status: ExitStatus =
                if report.authenticationFailed {
                    .authentication
                } else if report.nothingPolled {
                    .unavailable
                } else if report.errors > 0 {
                    .partialFailure
                } else {
                    .ok
                }
            if status != .ok { throw ExitCode(status.rawValue) }
            return
        }
        let stopper = Task {
            await waitForTermination()
            console.err("tsee run: stopping after the cycle in flight\n")
            await scheduler.requestStop()
        }
        let ending = await scheduler.run()
        notifier.stopping()
        stopper.cancel()
        await metricsServer?.stop()
        await connection.close()
        if case .authenticationRefused(let cycles) = ending {
            console.err("tsee run: stopped: the login was refused in \(cycles) cycles in a row\n")
            throw ExitCode(ExitStatus.authentication.rawValue)
        }
    }

    /// SIGHUP: reads the rule files again; a broken set is refused with its diagnostics and the running set kept.
    static func reload(_ paths: [String], into scheduler: Scheduler, console: Console) async {
        do {
            let (loaded, diagnostics, files) = try RuleFiles.load(paths)
            for diagnostic in diagnostics { console.err(diagnostic.description + "\n") }
            if diagnostics.hasErrors {
                console.err("tsee run: reload refused: fix the errors above; the running rules stay in force\n")
                return
            }
            let change = await scheduler.reload(Engine(loaded))
            console.err(
                "tsee run: reloaded \(loaded.rules.count) rules from \(files.count) files (added: "
                    + "\(change.added.joined(separator: ", ")); removed: \(change.removed.joined(separator: ", ")); "
                    + "\(change.closedFirings) open firings of removed rules closed in the log)\n")
        } catch {
            console.err("tsee run: reload refused: \(error); the running rules stay in force\n")
        }
    }

    /// State belongs to one deployment: refuse a database made against another, and cursors in the API's future.
    private func checkDeployment(store: any Store, connection: Connection, console: Console) async throws {
        let identity =
            connection.simulator != nil
            ? DeploymentIdentity(baseURL: "built-in simulator", clientID: "sim")
            : DeploymentIdentity(
                baseURL: connection.client.configuration.baseURL.absoluteString,
                clientID: connection.client.configuration.clientID)
        let recorded: DeploymentIdentity
        do {
            recorded = try await store.claimDeployment(identity)
        } catch {
            console.err("tsee run: cannot read the database: \(error)\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        guard recorded == identity else {
            console.err(
                "tsee run: not started: the database \(store.location) holds the state of \(recorded), "
                    + "but this run is against \(identity); use another --db (or profile) for each deployment\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
        // The API's clock is known after one answer; a login that fails here is reported by the first cycle.
        guard (try? await connection.client.login()) != nil, connection.client.knowsServerTime,
            let newest = try? await store.newestCursor(dryRun: dryRun)
        else { return }
        let now = connection.client.serverNow()
        guard newest > now + 300 else { return }
        let ahead = "saved cursors reach \(newest - now) s past the API's clock"
        if connection.simulator != nil || resetCursors {
            console.err("tsee run: \(ahead); starting the devices afresh from --lookback\n")
            try? await store.resetCursors(dryRun: dryRun)
        } else {
            console.err(
                "tsee run: not started: \(ahead) (a restored backup or another deployment's state?); "
                    + "pass --reset-cursors to start the devices afresh from --lookback\n")
            throw ExitCode(ExitStatus.usage.rawValue)
        }
    }

    /// `notify NAME` targets: a `[notify.NAME]` of the configuration file (its `env:`/`file:` header values read
    /// when a notification is sent, so a rotated secret is picked up), else `TSEE_NOTIFY_<NAME>_URL`.
    static func webhooks(_ configured: [String: NotifyTarget]) -> WebhookResolver {
        let fallback = Webhook.environmentResolver()
        return { name in
            guard let target = configured[name] else { return try fallback(name) }
            return WebhookTarget(url: target.url, headers: try target.resolvedHeaders())
        }
    }

}

extension StoreLocation {
    /// What the stream's default client id is derived from: the database file's full path; for PostgreSQL, whose
    /// database several machines share, its URL (which never holds a password) and this machine's name, so two
    /// schedulers never take each other's session.
    func streamClientName(_ text: String) -> String {
        if case .sqlite = self { return URL(fileURLWithPath: text).standardizedFileURL.path }
        return text + "@" + ProcessInfo.processInfo.hostName
    }
}
