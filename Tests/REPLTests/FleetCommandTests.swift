import Foundation
import Simulator
import Testing
import ThingseeAPI

@testable import REPL

/// A REPL session against a simulator on loopback, its output captured.
struct Session {
    let server: SimulatorServer
    let client: ThingseeClient
    let context: CommandContext
    let output: CapturedOutput

    static func start(devices: Int = 40, errorIsTerminal: Bool = false, echoDelay: Double = 3) async throws -> Session {
        var configuration = SimulatorConfiguration()
        configuration.devices = devices
        configuration.seed = 1
        configuration.echoDelay = echoDelay
        let server = SimulatorServer(configuration: configuration)
        let url = try await server.start()
        let client = ThingseeClient(
            configuration: try ClientConfiguration(
                baseURL: url.absoluteString, clientID: configuration.clientID,
                clientSecret: Secret(configuration.clientSecret)))
        let (console, output) = Console.capturing(errorIsTerminal: errorIsTerminal)
        let context = CommandContext(
            client: client, connectionLabel: "sim", databasePath: "/nonexistent/tsee.db", console: console,
            output: .json)
        return Session(server: server, client: client, context: context, output: output)
    }

    func run(_ line: String) async -> REPL.ExitStatus { await context.execute(line: line) }

    /// The JSON printed by the last command (the output is cleared by reading it).
    var json: JSONValue? {
        get throws { try JSONValue.parse(Data(output.out.utf8)) }
    }

    var stats: SimulatorStats { get async { await server.stats } }

    func stop() async { await server.stop() }

    /// Every device of every group and `unassigned`.
    func allDevices() async throws -> [String] {
        var tuids: [String] = []
        for group in try await client.groups().map(\.groupId) + ["unassigned"] {
            tuids += try await client.groupThings(group).tuids
        }
        return tuids
    }
}

@Suite(.serialized) struct FleetCommandTests {
    @Test func thingsWhereListsExactlyTheDevicesWhoseBatteryIsLow() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        // The expectation, computed independently: each device's newest batl, else thing info's battery_level.
        var expected: [String] = []
        let now = session.client.serverNow()
        for tuid in try await session.allDevices() {
            let newest = try await session.client.messages(
                tuid, MessageQuery(limit: 1, messageIDs: [1110], from: now - 86400)
            ).first?.properties["batl"]?.doubleValue
            let battery: Double?
            if let newest { battery = newest } else { battery = try await session.client.thing(tuid).batteryLevel }
            if let battery, battery < 20 { expected.append(tuid) }
        }
        #expect(!expected.isEmpty, "the seed-1 fleet has low-battery devices")

        let status = await session.run("things --where 'battery below 20' --columns tuid,battery")
        #expect(status == .ok, "\(session.output.err)")
        let rows = try #require(try session.json?.arrayValue)
        #expect(Set(rows.compactMap { $0["tuid"]?.stringValue }) == Set(expected))
        #expect(rows.allSatisfy { ($0["battery"]?.doubleValue ?? 100) < 20 })
        #expect(rows.allSatisfy { $0.objectValue?.keys.sorted() == ["battery", "tuid"] })
    }

    @Test func thingsFetchesOnlyWhatItsColumnsNeed() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        let status = await session.run("things --columns tuid,model,kind,group")
        #expect(status == .ok, "\(session.output.err)")
        let rows = try #require(try session.json?.arrayValue)
        #expect(Set(rows.compactMap { $0["tuid"]?.stringValue }) == Set(try await session.allDevices()))
        #expect(rows.contains { $0["kind"]?.stringValue == "gateway" && $0["model"]?.stringValue == "TSGW01" })
        let routes = await session.stats.byRoute.keys.filter { !$0.contains("/auth/") }
        // The device list only: no request about any single device.
        #expect(Set(routes) == ["GET /groups", "GET /groups/{groupid}/things"], "\(routes)")
    }

    @Test func thingsSortsAndLimits() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        #expect(await session.run("things --columns tuid,battery --sort battery --limit 3") == .ok)
        let batteries = try #require(try session.json?.arrayValue).compactMap { $0["battery"]?.doubleValue }
        #expect(batteries.count == 3 && batteries == batteries.sorted())
        #expect(await session.run("things --columns tuid,battery,tuid") == .usage)
        #expect(await session.run("things --sort batery") == .usage)
        #expect(session.output.err.contains("did you mean `battery`?"))
    }

    @Test func aBadWhereIsAUsageErrorPointingAtTheExpressionAndSendsNothing() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        #expect(await session.run("things --where 'battery below 20 and temp >'") == .usage)
        let err = session.output.err
        #expect(err.contains("--where:1:"), "\(err)")
        #expect(err.contains("  battery below 20 and temp >\n"))
        #expect(await session.run("things --where 'batery below 20'") == .usage)
        #expect(session.output.err.contains("--where:1:1: error: unknown field `batery`"))
        #expect(session.output.err.contains("did you mean `battery`?"))
        // A condition only: actions or clauses cannot ride along.
        #expect(await session.run("install --where 'battery below 20 then move to retired' quarantine --yes") == .usage)
        #expect(await session.stats.total == 0)
    }

    @Test func progressBarIsDrawnOnlyWhenStandardErrorIsATerminal() async throws {
        let quiet = try await Session.start()
        defer { Task { await quiet.stop() } }
        #expect(await quiet.run("things --columns tuid,battery") == .ok)
        #expect(!quiet.output.err.contains("["))
        let shown = try await Session.start(errorIsTerminal: true)
        defer { Task { await shown.stop() } }
        #expect(await shown.run("things --columns tuid,battery") == .ok)
        #expect(shown.output.err.contains("/40"), "\(shown.output.err)")
        #expect(shown.output.err.hasSuffix("\r\u{1B}[K"), "the bar is erased at the end")
    }

    @Test func progressFrames() {
        #expect(ProgressBar.frame(label: "things", done: 5, total: 10, extra: "", width: 80).hasPrefix("things [####"))
        #expect(
            ProgressBar.frame(label: "x", done: 10, total: 10, extra: "7 messages", width: 40).hasSuffix(
                "] 10/10  7 messages"))
    }

    @Test func aDroppedProgressBarErasesItselfOnce() {
        let (console, output) = Console.capturing(errorIsTerminal: true)
        do {
            let bar = ProgressBar(label: "x", total: 3, write: { console.err($0) })
            bar.advance()
        }  // dropped without finish(), as when Ctrl-C cancels the command
        #expect(output.err.hasSuffix("\r\u{1B}[K"))
        let bar = ProgressBar(label: "y", total: 1, write: { console.err($0) })
        bar.finish()
        output.clear()
        bar.finish()
        #expect(output.err.isEmpty)
    }

    @Test func deviceKindsFromModelPrefixes() {
        #expect(DeviceKind(tuid: "TSPD04ESY93100802") == .environment)
        #expect(DeviceKind(tuid: "TSGW01LYP11609456") == .gateway)
        #expect(DeviceKind(tuid: "TSAP01AAA00000000") == .peopleCounter)
        #expect(DeviceKind(tuid: "TSAR01AAA00000000").rawValue == "air-quality")
        #expect(DeviceKind(tuid: "XXXX01AAA00000000") == .unknown)
    }
}
