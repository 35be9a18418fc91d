import Foundation
import Store
import TestSupport
import Testing
import ThingseeAPI

@testable import Automation
@testable import Rules

/// Each device's snapshot is saved in a compact binary layout (`DeviceSnapshot.row`); rows written as JSON by an
/// older tsee still read, and a damaged row starts its device afresh rather than failing the load.
@Suite("Saved device state: the binary row")
struct SavedStateTests {
    /// Rules that keep every kind of state: windows (history), `for` over reports, text, alerts, silence.
    static let rules = """
        rule drain
          when delta(batl, 24h) < -5
          then log "{tuid} draining"
        rule warm
          when avg(temp, 30m) > 8 and humd > 20
          then log "{tuid} warm"
        rule firmware
          when firmware is "2.10" and count(temp, 1h) >= 2
          then log "{tuid} old firmware"
        rule lost
          when alert "gateway connection lost" for 1h
          then log "{tuid} lost"
        rule quiet
          when silence > 2h
          then log "{tuid} quiet"
        """

    /// Snapshots of 12 devices after 40 evaluations of random messages, alerts and facts.
    static func snapshots() throws -> [DeviceSnapshot] { try devices().map(\.snapshot) }

    /// The same devices' snapshots with their rule states.
    static func devices() throws -> [(snapshot: DeviceSnapshot, states: [RuleState])] {
        let engine = try engine(rules)
        let step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
        var random = SplitMix64(seed: 7)
        var snapshots = (0..<12).map { _ in DeviceSnapshot() }
        var states = (0..<12).map { _ in engine.initialStates() }
        var time: Int64 = 1_700_000_000
        for _ in 0..<40 {
            time += 900
            for d in snapshots.indices {
                let tuid = String(format: "TSPD04ESY9310%04d", d)
                let fresh = try (0..<Int(random.next() % 4)).map { k -> ThingseeAPI.Message in
                    let json =
                        #"{"tsmId":12100,"tsmEv":10,"tsmTs":\#(time - Int64(k) * 60),"tsmTuid":"\#(tuid)","#
                        + #""temp":\#(Double(random.next() % 200) / 10),"humd":\#(random.next() % 90),"#
                        + #""batl":\#(100 - Int(random.next() % 40))}"#
                    return try #require(try ThingseeAPI.Message.decode(json: Data(json.utf8), source: "test"))
                }
                var snapshot = snapshots[d]
                snapshot.observations.firmware = random.next() % 2 == 0 ? "2.10" : "2.1"
                snapshot.observations.status = d % 3 == 0 ? nil : "installed"
                snapshot.observations.alerts =
                    d % 4 == 0
                    ? nil
                    : [AlertEpisode(type: "gateway connection lost", from: time - 7200, to: d % 2 == 0 ? nil : time)]
                snapshot.observations.batteryLevel = d % 5 == 0 ? nil : Double(d) + 0.5
                snapshot.cursor = time
                snapshot.alertsFetchedAt = time - 60
                snapshot.statusFetchedAt = d % 3 == 0 ? nil : time - 30
                snapshot.thingFetchedAt = d % 2 == 0 ? nil : time - 10
                snapshot.recentKeys = ["\(tuid)|\(time)|12100", "käse|∆"]
                let output = step.run(
                    DeviceStep.Input(
                        tuid: tuid, group: "prfi00cold", snapshot: snapshot, states: states[d], pending: [],
                        fresh: fresh,
                        now: time))
                snapshots[d] = output.snapshot
                states[d] = output.states
            }
        }
        return Array(zip(snapshots, states))
    }

    /// The JSON of a snapshot, keys sorted: a comparison that treats the text reports' NaN (saved as null) alike.
    static func json(_ snapshot: DeviceSnapshot) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(snapshot), as: UTF8.self)
    }

    /// The scheduler's messages are de-duplicated before the engine sees them (`DeviceSnapshot.admit`), so a day-long
    /// window keeps a day of its field's reports but only the last hour of message times (for `silence` and late
    /// placement): most of a saved row used to be a day of them.
    @Test func aDayLongWindowKeepsItsReportsAndOnlyAnHourOfMessageTimes() throws {
        let engine = try engine(
            """
            rule drain
              when delta(batl, 24h) < -5
              then log "{tuid} draining"
            """)
        let step = DeviceStep(engine: engine, conversion: MessageConversion(needs: engine.ruleSet.needs))
        let tuid = "TSPD04ESY93100802"
        var snapshot = DeviceSnapshot()
        var states = engine.initialStates()
        var firings: [Int64] = []
        let start: Int64 = 1_700_000_000
        // A day of reports every five minutes, the battery a point lower every two hours.
        for k in 0..<288 {
            let time = start + Int64(k) * 300
            let json = #"{"tsmId":1110,"tsmEv":10,"tsmTs":\#(time),"tsmTuid":"\#(tuid)","batl":\#(100 - k / 24)}"#
            let message = try #require(try ThingseeAPI.Message.decode(json: Data(json.utf8), source: "test"))
            let output = step.run(
                DeviceStep.Input(
                    tuid: tuid, group: nil, snapshot: snapshot, states: states, pending: [], fresh: [message],
                    now: time))
            firings += output.firingsByRule.flatMap(\.firings).map(\.time)
            snapshot = output.snapshot
            states = output.states
        }
        // 100 → 94 after twelve hours: the window saw every report of the day.
        #expect(firings == [start + 144 * 300])
        #expect(snapshot.observations.history[0].samples.count == 288)
        // An hour of message times (twelve reports and the one at its edge), not a day's 288.
        #expect(snapshot.observations.messages.count <= 13)
        #expect(snapshot.row.count < 288 * 16 + 1_000)
    }

    @Test func aSnapshotReadsBackFromItsRowAsItWas() throws {
        let snapshots = try Self.snapshots()
        // The fixture exercises what the layout must carry.
        #expect(
            snapshots.allSatisfy { $0.observations.latest("batl") != nil && $0.observations.newestMessageTime != nil })
        #expect(
            snapshots.contains { $0.observations.alerts == nil } && snapshots.contains { $0.observations.alerts != nil }
        )
        // A day of battery history and the recent messages make the rows large.
        #expect(snapshots.allSatisfy { $0.observations.savedSizeEstimate > 16 * 40 })
        for snapshot in snapshots {
            let row = snapshot.row
            let read = try #require(DeviceSnapshot(row: row, decoder: JSONDecoder()))
            #expect(try Self.json(read) == Self.json(snapshot))
            #expect(read.row == row)
        }
    }

    @Test func aRowWrittenAsJSONByAnOlderTseeStillReads() throws {
        for snapshot in try Self.snapshots() {
            let row = try JSONEncoder().encode(snapshot)
            let read = try #require(DeviceSnapshot(row: row, decoder: JSONDecoder()))
            #expect(try Self.json(read) == Self.json(snapshot))
        }
    }

    @Test func aDamagedRowIsRefusedWithoutACrash() throws {
        let row = try #require(try Self.snapshots().max { $0.row.count < $1.row.count }).row
        // Every cut: refused, never read past the end.
        for length in 0..<row.count {
            #expect(DeviceSnapshot(row: row.prefix(length), decoder: JSONDecoder()) == nil, "cut at \(length)")
        }
        // Bytes after the snapshot.
        #expect(DeviceSnapshot(row: row + [0], decoder: JSONDecoder()) == nil)
        // Random damage: read or refused, never a crash or a huge allocation (counts are checked against the row).
        var random = SplitMix64(seed: 3)
        for _ in 0..<2_000 {
            var damaged = [UInt8](row)
            for _ in 0..<(1 + Int(random.next() % 4)) {
                let at = DeviceSnapshot.mark.count + Int(random.next() % UInt64(row.count - DeviceSnapshot.mark.count))
                damaged[at] = UInt8(truncatingIfNeeded: random.next())
            }
            _ = DeviceSnapshot(row: Data(damaged), decoder: JSONDecoder())
        }
        // Neither layout: refused.
        #expect(DeviceSnapshot(row: Data("not a row".utf8), decoder: JSONDecoder()) == nil)
    }

    @Test func theLoadSkipsADamagedRowAndKeepsTheOthers() throws {
        let snapshots = try Self.snapshots()
        let rows = [
            DeviceRow(tuid: "A", dryRun: false, observations: snapshots[0].row),
            DeviceRow(tuid: "B", dryRun: false, observations: snapshots[1].row.prefix(40)),
            DeviceRow(tuid: "C", dryRun: false, observations: try JSONEncoder().encode(snapshots[2])),
        ]
        let loaded = SavedState.snapshots(rows)
        #expect(Set(loaded.keys) == ["A", "C"])
        #expect(try Self.json(#require(loaded["A"])) == Self.json(snapshots[0]))
    }
}
