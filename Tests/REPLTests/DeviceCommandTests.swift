import Foundation
import Simulator
import Testing
import ThingseeAPI

@testable import REPL

/// The device and group commands beyond the seed document: `group of`, `group rename`, `--limit`, echo confirmation.
@Suite(.serialized) struct DeviceCommandTests {
    @Test func groupOfNamesTheDevicesGroup() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        let fleet = await session.server.fleetSnapshot
        let tuid = try #require(fleet.deviceTUIDs().first { fleet.group(of: $0) != nil })
        #expect(await session.run("group of \(tuid)") == .ok, "\(session.output.err)")
        #expect(try session.json?["group_id"]?.stringValue == fleet.group(of: tuid))
    }

    @Test func groupRenameChecksTheNewIdBeforeSendingAnything() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        #expect(await session.run("group rename prfi00coldchain unassigned") == .usage)
        #expect(await session.run("group rename prfi00coldchain 'two words'") == .usage)
        #expect(await session.run("group rename unassigned prfi00x") == .usage)
        #expect(await session.stats.total == 0)
    }

    @Test func groupCreateWarnsOutsideTheNamingConventionButCreates() async throws {
        let session = try await Session.start()
        defer { Task { await session.stop() } }
        #expect(await session.run("group create Cold_Test") == .ok)
        #expect(session.output.err.contains("warning: `Cold_Test` does not follow the group naming convention"))
        let before = session.output.err.count
        #expect(await session.run("group create prfi00coldtest") == .ok)
        #expect(session.output.err.count == before, "no warning for a conventional id")
        #expect(CommandDefinition.namingWarning("prfi00haltianhq") == nil)
        #expect(CommandDefinition.namingWarning("cold-chain") != nil)
        #expect(CommandDefinition.namingWarning("prfi00" + String(repeating: "a", count: 59)) != nil)
    }

    @Test func installationsAndCommandsTakeALimit() async throws {
        let session = try await Session.start(echoDelay: 0)
        defer { Task { await session.stop() } }
        let tuid = try #require(session.server.deviceTUIDs().first { $0.hasPrefix("TSEN01") || $0.hasPrefix("TSPD") })
        #expect(await session.run("install \(tuid) quarantine") == .ok)
        session.output.clear()
        #expect(await session.run("installations \(tuid) --limit 1") == .ok)
        let current = try #require(try lastJSON(session)?.arrayValue)
        #expect(current.count == 1 && current[0]["installation_status"]?.stringValue == "quarantine")

        #expect(await session.run("send \(tuid) 1500") == .ok, "a header-only command")
        #expect(await session.run("send \(tuid) 1500 reportInterval=600") == .ok)
        session.output.clear()
        #expect(await session.run("commands \(tuid) --limit 1") == .ok)
        let newest = try #require(try lastJSON(session)?.arrayValue)
        #expect(newest.count == 1)
        // The echo (no delay in this simulator) confirms the command.
        #expect(newest[0]["confirmed"] == .bool(true), "\(newest)")
    }

    func lastJSON(_ session: Session) throws -> JSONValue? { try session.json }
}
