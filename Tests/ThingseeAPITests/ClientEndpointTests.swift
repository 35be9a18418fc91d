import Foundation
import TestSupport
import Testing
import ThingseeAPI

@Suite("Client against the simulator")
struct ClientEndpointTests {
    @Test func groupsThingsAndThingInfo() async throws {
        try await SimulatorHarness.with { sim in
            let groups = try await sim.client.groups()
            #expect(!groups.isEmpty)
            let devices = try await sim.allDevices()
            #expect(devices.count >= 30)
            #expect(devices.allSatisfy(TUID.isValid))
            let info = try await sim.client.thing(devices[0])
            #expect(info.version?.isEmpty == false)
            #expect(info.raw["battery_level"] != nil || info.raw["location"] != nil)
        }
    }

    @Test func unknownDeviceIs404WithTheAPIsMessage() async throws {
        try await SimulatorHarness.with { sim in
            do {
                _ = try await sim.client.thing("TSPD04AAAAAAAAAAA")
                Issue.record("expected a 404")
            } catch let error as ThingseeError {
                guard case .api(let endpoint, let status, let name, let message) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(status == 404)
                #expect(name == "Not Found")
                #expect(!message.isEmpty)
                #expect(endpoint == "GET /things/TSPD04AAAAAAAAAAA")
                #expect(error.description.contains("404"))
            }
        }
    }

    @Test func messagesHonourLimitFiltersAndRange() async throws {
        try await SimulatorHarness.with { sim in
            let devices = try await sim.allDevices()
            let now = sim.client.serverNow()
            var checked = 0
            for tuid in devices {
                let page = try await sim.client.messages(tuid, MessageQuery(limit: 5, from: now - 86400, to: now))
                guard !page.isEmpty else { continue }
                #expect(page.count <= 5)
                #expect(page.allSatisfy { $0.tsmTuid == tuid && $0.tsmTs >= now - 86400 && $0.tsmTs <= now })
                let batteries = try await sim.client.messages(
                    tuid, MessageQuery(limit: 50, messageIDs: [1110], from: now - 86400))
                #expect(batteries.allSatisfy { $0.tsmId == 1110 && $0.properties["batl"]?.doubleValue != nil })
                let periodic = try await sim.client.messages(tuid, MessageQuery(limit: 50, eventIDs: [10]))
                #expect(periodic.allSatisfy { $0.tsmEv == 10 })
                checked += 1
                if checked == 3 { break }
            }
            #expect(checked == 3)
        }
    }

    @Test func allMessagesIsTheSameWhateverThePageSize() async throws {
        try await SimulatorHarness.with { sim in
            let tuid = try #require(try await sim.allDevices().first { !$0.hasPrefix("TSGW") })
            let now = sim.client.serverNow()
            let big = try await sim.client.allMessages(tuid, from: now - 6 * 3600, to: now, pageSize: 1000)
            let small = try await sim.client.allMessages(tuid, from: now - 6 * 3600, to: now, pageSize: 3)
            #expect(big.count > 3)
            #expect(small.map(\.deduplicationKey) == big.map(\.deduplicationKey))
            #expect(zip(big, big.dropFirst()).allSatisfy { $0.tsmTs <= $1.tsmTs })
        }
    }

    @Test func installationStatusRoundTripNewestFirst() async throws {
        try await SimulatorHarness.with { sim in
            let tuid = try #require(try await sim.allDevices().first)
            let result = try await sim.client.setInstallationStatus(tuid, .quarantine)
            #expect(result.installationStatus == "quarantine")
            #expect(result.tuid == tuid)
            let history = try await sim.client.installations(tuid)
            #expect(history.first?.installationStatus == "quarantine")
        }
    }

    @Test func groupLifecycle() async throws {
        try await SimulatorHarness.with { sim in
            let tuid = try #require(try await sim.allDevices().first)
            let group = try await sim.client.createGroup("test-lab", description: "Test lab")
            #expect(group.groupId == "test-lab")
            do {
                _ = try await sim.client.createGroup("test-lab")
                Issue.record("expected 409")
            } catch let error as ThingseeError {
                #expect(error.status == 409)
            }
            let assigned = try await sim.client.assignGroup(tuid, to: "test-lab")
            #expect(assigned.groupId == "test-lab")
            #expect(try await sim.client.groupThings("test-lab").tuids == [tuid])
            #expect(try await sim.client.groups(search: "test").contains { $0.groupId == "test-lab" })
            let deletion = try await sim.client.deleteGroup("test-lab")
            #expect(deletion.deleted)
            #expect(try await sim.client.groupThings("unassigned").tuids.contains(tuid))
            do {
                _ = try await sim.client.groupThings("test-lab")
                Issue.record("expected 404")
            } catch let error as ThingseeError {
                #expect(error.status == 404)
            }
        }
    }

    @Test func commandIsAcceptedRecordedAndEchoed() async throws {
        try await SimulatorHarness.with({ $0.echoDelay = 1 }) { sim in
            let tuid = try #require(try await sim.allDevices().first { !$0.hasPrefix("TSGW") })
            let sentAt = sim.client.serverNow()
            let receipt = try await sim.client.sendCommands(
                tuid,
                [
                    Command(
                        tsmId: 1500, transactionId: 4242,
                        parameters: [("measurementInterval", 60), ("reportInterval", 5)])
                ])
            #expect(receipt.commands.first?["transactionId"]?.intValue == 4242)
            #expect(receipt.commands.first?["tsmDstTuid"]?.stringValue == tuid)
            let history = try await sim.client.commandHistory(tuid)
            #expect(history.first?.transactionId == 4242)
            #expect(history.first?.tsmId == 1500)

            var echo: Message?
            for _ in 0..<40 where echo == nil {
                try await Task.sleep(for: .milliseconds(250))
                let echoes = try await sim.client.messages(
                    tuid, MessageQuery(limit: 10, messageIDs: [1500], eventIDs: [31], from: sentAt - 5))
                echo = echoes.first { $0.transactionId == 4242 }
            }
            let confirmed = try #require(echo)
            #expect(confirmed.tsmEv == 31)
            #expect(confirmed.properties["measurementInterval"]?.doubleValue == 60)
            // 5 s is below what a device accepts: the echo carries the clamped value.
            let reported = try #require(confirmed.properties["reportInterval"]?.doubleValue)
            #expect(reported > 5)
        }
    }

    @Test func validationErrorsCarryTheAPIsMessage() async throws {
        try await SimulatorHarness.with { sim in
            let tuid = try #require(try await sim.allDevices().first)
            do {
                _ = try await sim.client.sendCommands(tuid, [Command(tsmId: 9999, transactionId: 1, parameters: [])])
                Issue.record("expected 400")
            } catch let error as ThingseeError {
                #expect(error.status == 400)
            }
            do {
                _ = try await sim.client.createGroup("unassigned")
                Issue.record("expected 400")
            } catch let error as ThingseeError {
                #expect(error.status == 400)
            }
        }
    }

    @Test func alertsDecode() async throws {
        try await SimulatorHarness.with { sim in
            let now = sim.client.serverNow()
            var episodes = 0
            for tuid in try await sim.allDevices() {
                let records = try await sim.client.alerts(tuid, from: now - 7 * 86400, to: now)
                for record in records {
                    #expect(record.alertType == "gateway connection lost")
                    for e in record.episodes {
                        #expect(e.from <= now)
                        if let to = e.to { #expect(to >= e.from) }
                        episodes += 1
                    }
                }
            }
            #expect(episodes > 0)
        }
    }
}
