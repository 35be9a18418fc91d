import Foundation
import Testing

@testable import Simulator

@Suite("Fleet model")
struct FleetTests {
    let origin = 1_700_000_000.0

    @Test func populationIsDeterministicForASeed() throws {
        let a = Fleet(devices: 80, seed: 7, origin: origin)
        let b = Fleet(devices: 80, seed: 7, origin: origin)
        let c = Fleet(devices: 80, seed: 8, origin: origin)
        #expect(a.deviceTUIDs() == b.deviceTUIDs())
        #expect(a.deviceTUIDs() != c.deviceTUIDs())
        for tuid in a.deviceTUIDs().prefix(10) {
            let query = Fleet.MessageQuery(limit: 50)
            let left = try a.messagesJSON(tuid: tuid, query: query, now: origin + 3_600)
            let right = try b.messagesJSON(tuid: tuid, query: query, now: origin + 3_600)
            #expect(left.encoded() == right.encoded())
            #expect(
                try a.alerts(tuid: tuid, from: nil, to: nil, now: origin)
                    == b.alerts(tuid: tuid, from: nil, to: nil, now: origin))
        }
    }

    @Test func tuidsHaveRealModelPrefixesAndAreUnique() {
        let fleet = Fleet(devices: 500, seed: 3, origin: origin)
        let tuids = fleet.deviceTUIDs()
        #expect(Set(tuids).count == 500)
        let prefixes: Set<String> = ["TSPD04", "TSEN01", "TSPR04", "TSTF01", "TSAR01", "TSAP01", "TSLK01", "TSGW01"]
        for tuid in tuids {
            #expect(tuid.count == 17)
            #expect(prefixes.contains(String(tuid.prefix(6))))
            #expect(tuid.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) })
        }
        #expect(tuids.filter { $0.hasPrefix("TSGW01") }.count == 24)
        #expect(Set(tuids.map { $0.prefix(6) }).count >= 6)
    }

    @Test func someDevicesAreUnassignedAndGroupsHaveDescriptions() {
        let fleet = Fleet(devices: 200, seed: 1, origin: origin)
        #expect(fleet.groupIDs().contains("prfi00coldchain"))
        #expect(fleet.deviceTUIDs().contains { fleet.group(of: $0) == Fleet.unassigned })
        #expect(fleet.deviceTUIDs().contains { fleet.group(of: $0) == "prfi00coldchain" })
    }

    @Test(arguments: [1, 2, 3, 42, 1000] as [UInt64])
    func atLeastOneAlertHasBeenOpenForOverAnHourAtStart(seed: UInt64) throws {
        let fleet = Fleet(devices: 40, seed: seed, origin: origin)
        let open = fleet.tuidsWithOpenAlert(at: origin)
        #expect(!open.isEmpty)
        let longOpen = try open.contains { tuid in
            let alerts = try fleet.alerts(tuid: tuid, from: nil, to: nil, now: origin)
            guard case .array(let entries) = alerts, case .array(let periods)? = entries.first?["alerts"] else {
                return false
            }
            return periods.contains { period in
                period["to"] == nil
                    && (period["from"]?.string).map { $0 <= HTTPDate.isoWithoutZone(origin - 3_600) } == true
            }
        }
        #expect(longOpen)
    }

    @Test func someBatteriesAreLowAndTheyDrain() throws {
        let fleet = Fleet(devices: 400, seed: 5, origin: origin)
        var low = 0
        for device in fleet.devices where !device.model.isMainsPowered {
            if fleet.battery(device, origin) < 20 { low += 1 }
            #expect(fleet.battery(device, origin + 30 * 86_400) < fleet.battery(device, origin))
        }
        #expect(low > 0)
    }

    @Test func coldChainTemperaturesStayColdWithOccasionalExcursions() throws {
        let fleet = Fleet(devices: 400, seed: 2, origin: origin)
        let cold = fleet.devices.filter { $0.initialGroup == "prfi00coldchain" && $0.model.reportIDs.contains(12100) }
        try #require(!cold.isEmpty)
        var temps: [Double] = []
        for device in cold.prefix(10) {
            let messages = try fleet.messages(
                tuid: device.tuid, query: .init(limit: 5_000, messageIDs: [12100]), now: origin)
            temps += messages.compactMap { message in message.fields.first { $0.0 == "temp" }?.1.number }
        }
        let sorted = temps.sorted()
        let median = sorted[sorted.count / 2]
        #expect((2...7).contains(median))
        #expect(sorted.last! > 8)
    }

    @Test func messagesAreNewestFirstWithinRangeAndFiltered() throws {
        let fleet = Fleet(devices: 60, seed: 1, origin: origin)
        for tuid in fleet.deviceTUIDs().prefix(21) {
            let from = origin - 86_400
            let messages = try fleet.messages(
                tuid: tuid,
                query: .init(limit: 200, messageIDs: [1110], eventIDs: [10], from: from, to: origin - 3_600),
                now: origin)
            #expect(messages.allSatisfy { $0.tsmID == 1110 && $0.tsmEv == 10 })
            #expect(messages.allSatisfy { $0.time >= from && $0.time <= origin - 3_600 })
            #expect(zip(messages, messages.dropFirst()).allSatisfy { $0.time >= $1.time })
        }
    }

    @Test func aReportIntervalCommandChangesCadenceAndIsEchoedClamped() throws {
        var fleet = Fleet(devices: 40, seed: 1, origin: origin, echoDelay: 3)
        let device = try #require(fleet.devices.first { $0.model.reportIDs.contains(12100) })
        let tuid = device.tuid
        let id12100 = Fleet.MessageQuery(limit: 10_000, messageIDs: [12100], from: origin - 86_400)
        let before = try fleet.messages(tuid: tuid, query: id12100, now: origin)

        let command = JSON.array([
            .object([
                ("tsmId", .int(1500)), ("tsmEv", .int(30)), ("transactionId", .int(4242)),
                ("measurementInterval", .int(30)), ("reportInterval", .int(5)), ("colour", .string("blue")),
            ])
        ])
        _ = try fleet.sendCommands(tuid: tuid, body: command, now: origin)

        // History before the command is unchanged.
        let after = try fleet.messages(tuid: tuid, query: id12100, now: origin)
        #expect(after.map(\.time) == before.map(\.time))

        // From the echo on, the device reports every 10 s (5 clamped to the 10 s minimum).
        let later = try fleet.messages(
            tuid: tuid, query: .init(limit: 100, messageIDs: [12100], from: origin + 4), now: origin + 120)
        let times = later.map(\.time).reversed()
        #expect(times.count >= 10)
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == 10 })

        let echoes = try fleet.messages(
            tuid: tuid, query: .init(limit: 10, eventIDs: [31], from: origin), now: origin + 120)
        let echo = try #require(echoes.first)
        #expect(echoes.count == 1)
        #expect(echo.tsmID == 1500)
        #expect(echo.time == origin + 3)
        let fields = Dictionary(uniqueKeysWithValues: echo.fields.map { ($0.0, $0.1) })
        #expect(fields["transactionId"] == .int(4242))
        #expect(fields["reportInterval"] == .int(10))
        #expect(fields["measurementInterval"] == .int(30))
        #expect(fields["colour"] == nil)

        // The echo is not visible before it is due.
        let early = try fleet.messages(tuid: tuid, query: .init(limit: 10, eventIDs: [31]), now: origin + 1)
        #expect(early.isEmpty)
    }

    @Test func echoCarriesAllCurrentValuesOfThatConfig() throws {
        var fleet = Fleet(devices: 40, seed: 1, origin: origin)
        let tuid = fleet.deviceTUIDs()[1]
        let first = JSON.array([
            .object([
                ("tsmId", .int(13200)), ("tsmEv", .int(30)), ("transactionId", .int(1)), ("threshold", .int(5000)),
            ])
        ])
        let second = JSON.array([
            .object([("tsmId", .int(13200)), ("tsmEv", .int(30)), ("transactionId", .int(2)), ("mode", .int(2))])
        ])
        _ = try fleet.sendCommands(tuid: tuid, body: first, now: origin)
        _ = try fleet.sendCommands(tuid: tuid, body: second, now: origin + 60)
        let echoes = try fleet.messages(tuid: tuid, query: .init(limit: 10, eventIDs: [31]), now: origin + 600)
        #expect(echoes.map { $0.fields.first?.1 } == [.int(2), .int(1)])
        let latest = Dictionary(uniqueKeysWithValues: echoes[0].fields.map { ($0.0, $0.1) })
        #expect(latest["threshold"] == .int(1100))
        #expect(latest["mode"] == .int(2))
        #expect(latest["enableLed"] == .int(0))
        #expect(latest["passiveReportInterval"] != nil)
    }

    @Test func deletingAGroupMovesItsDevicesToUnassigned() throws {
        var fleet = Fleet(devices: 100, seed: 1, origin: origin)
        let group = try #require(
            fleet.deviceTUIDs().lazy.compactMap { fleet.group(of: $0) }.first { $0 != Fleet.unassigned })
        let members = fleet.deviceTUIDs().filter { fleet.group(of: $0) == group }
        let before = fleet.deviceTUIDs().filter { fleet.group(of: $0) == Fleet.unassigned }
        _ = try fleet.deleteGroup(id: group)
        #expect(members.allSatisfy { fleet.group(of: $0) == Fleet.unassigned })
        #expect(
            fleet.deviceTUIDs().filter { fleet.group(of: $0) == Fleet.unassigned }.count == before.count + members.count
        )
        #expect(!fleet.groupIDs().contains(group))
        #expect(throws: APIError.notFound("Group \(group) not found")) { try fleet.groupThings(id: group) }
    }

    @Test func installationHistoryStartsSeededAndListsNewestFirst() throws {
        var fleet = Fleet(devices: 10, seed: 1, origin: origin)
        let tuid = fleet.deviceTUIDs()[3]
        guard case .array(let initial) = try fleet.installationHistory(tuid: tuid) else { Issue.record(); return }
        #expect(initial.compactMap { $0["installation_status"]?.string } == ["installed", "new"])
        _ = try fleet.setInstallationStatus(tuid: tuid, status: "quarantine", now: origin)
        guard case .array(let updated) = try fleet.installationHistory(tuid: tuid) else { Issue.record(); return }
        #expect(updated.first?["installation_status"] == .string("quarantine"))
        #expect(fleet.installationStatus(of: tuid) == "quarantine")
    }

    @Test func tenThousandDevicesBuild() throws {
        let fleet = Fleet(devices: 10_000, seed: 9, origin: origin)
        #expect(fleet.deviceTUIDs().count == 10_000)
        #expect(Set(fleet.deviceTUIDs()).count == 10_000)
        let last = try #require(fleet.deviceTUIDs().last)
        #expect(try !fleet.messages(tuid: last, query: .init(limit: 5), now: origin).isEmpty)
    }

    @Test(arguments: [1, 2, 3, 42, 1000] as [UInt64])
    func episodesLastFiveMinutesToSixHoursIncludingThoseOpenAtStart(seed: UInt64) throws {
        let fleet = Fleet(devices: 300, seed: seed, origin: origin)
        var openAtStart = 0
        for device in fleet.devices {
            for episode in fleet.episodes(device, from: origin - 60 * 86_400, to: origin + 60 * 86_400) {
                #expect((300...21_600).contains(episode.to - episode.from), "\(device.tuid) \(episode)")
                if episode.from <= origin && episode.to > origin { openAtStart += 1 }
            }
        }
        #expect(openAtStart > 0)
    }

    @Test func messagesSentDuringAnEpisodeEchoesIncludedArriveWhenItEnds() throws {
        var fleet = Fleet(devices: 60, seed: 1, origin: origin, echoDelay: 3)
        let device = try #require(
            fleet.devices.first { !$0.model.reportIDs.isEmpty && !fleet.openEpisodes($0, at: origin).isEmpty })
        let episode = try #require(fleet.openEpisodes(device, at: origin).first)
        let command = JSON.array([.object([("tsmId", .int(1500)), ("tsmEv", .int(30)), ("transactionId", .int(9))])])
        _ = try fleet.sendCommands(tuid: device.tuid, body: command, now: origin)
        let query = Fleet.MessageQuery(limit: 10_000, from: episode.from - 3_600, to: origin + 10)

        let during = try fleet.messages(tuid: device.tuid, query: query, now: origin + 10)
        #expect(!during.isEmpty)
        #expect(during.allSatisfy { $0.time < episode.from }, "nothing sent during the episode has arrived")

        let after = try fleet.messages(tuid: device.tuid, query: query, now: episode.to)
        let late = after.filter { $0.time >= episode.from }
        #expect(late.contains { $0.tsmEv == 10 }, "the reports arrive late, with their own tsmTs")
        #expect(late.contains { $0.tsmEv == 31 && $0.time == origin + 3 }, "and so does the echo")
    }
}
