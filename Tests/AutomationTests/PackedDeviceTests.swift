import Foundation
import Store
import TestSupport
import Testing

@testable import Automation
@testable import Rules

/// Between its turns a device is held packed (`PackedDevice`): it must unpack as it was, the load must pack every
/// layout a database holds, and a turn's outcome must name exactly what changed, for only that to be saved.
@Suite("The scheduler's packed devices")
struct PackedDeviceTests {
    static func engine() throws -> Engine { try AutomationTests.engine(SavedStateTests.rules) }

    @Test func aDeviceUnpacksAsItWasPacked() throws {
        let devices = try SavedStateTests.devices()
        for (i, device) in devices.enumerated() {
            var states = device.states
            states[i % states.count].phase = .firing
            let packed = PackedDevice(snapshot: device.snapshot, states: states)
            #expect(try SavedStateTests.json(packed.unpackedSnapshot) == SavedStateTests.json(device.snapshot))
            #expect(packed.unpackedSnapshot.bytes == device.snapshot.bytes)
            #expect(packed.unpackedStates(rules: states.count) == states)
            #expect(packed.cursor == device.snapshot.cursor)
            #expect(packed.firing == states.indices.filter { states[$0].phase == .firing })
            // Held for other rules than it was packed for (never expected): the initial states, not a crash.
            #expect(packed.unpackedStates(rules: states.count + 1) == Array(repeating: RuleState(), count: states.count + 1))
        }
        // Nothing held: a fresh device.
        #expect(PackedDevice().unpackedSnapshot == DeviceSnapshot())
        #expect(PackedDevice().unpackedStates(rules: 3) == Array(repeating: RuleState(), count: 3))
    }

    @Test func theLoadPacksEveryLayoutAndADamagedRowStartsItsDeviceAfresh() throws {
        let engine = try Self.engine()
        let devices = try SavedStateTests.devices()
        var firing = devices[3].states
        firing[1].phase = .firing
        let rows = [
            DeviceRow(tuid: "A", dryRun: false, cursorTs: devices[0].snapshot.cursor, observations: devices[0].snapshot.row),
            DeviceRow(tuid: "B", dryRun: false, cursorTs: 5, observations: devices[1].snapshot.row.prefix(40)),
            DeviceRow(tuid: "C", dryRun: false, observations: try JSONEncoder().encode(devices[2].snapshot)),
        ]
        let stateRows =
            engine.rules.indices.map { i in
                RuleStateRow(rule: engine.rules[i].name, tuid: "A", dryRun: false, state: devices[0].states[i].jsonRow)
            } + [
                RuleStateRow(rule: engine.rules[1].name, tuid: "D", dryRun: false, state: firing[1].jsonRow),
                RuleStateRow(rule: "a rule no longer loaded", tuid: "D", dryRun: false, state: firing[0].jsonRow),
            ]
        var loader = StateLoader(engine: engine)
        for row in rows { loader.add(row) }
        for row in stateRows { loader.add(row) }
        let packed = loader.finish()
        #expect(Set(packed.keys) == ["A", "B", "C", "D"])
        let a = try #require(packed["A"])
        #expect(a.snapshot == [UInt8](devices[0].snapshot.row))
        #expect(a.unpackedStates(rules: engine.rules.count) == devices[0].states)
        // Held as it was read; at its turn it does not decode, and the device starts afresh.
        #expect(try #require(packed["B"]).unpackedSnapshot == DeviceSnapshot())
        // A JSON row of an older tsee: packed in the binary layout.
        let c = try #require(packed["C"])
        #expect(c.snapshot.starts(with: DeviceSnapshot.mark))
        #expect(try SavedStateTests.json(c.unpackedSnapshot) == SavedStateTests.json(devices[2].snapshot))
        #expect(c.unpackedStates(rules: engine.rules.count) == engine.initialStates())
        // Rule states only: the rule's row read, the rest initial, the unknown rule's row ignored.
        let d = try #require(packed["D"])
        var expected = engine.initialStates()
        expected[1] = firing[1]
        #expect(d.unpackedStates(rules: engine.rules.count) == expected)
        #expect(d.firing == [1])
        #expect(d.snapshot.isEmpty)
    }

    /// With leases, only the devices just acquired are read; rows out of device order join what is read.
    @Test func theLoaderTakesOnlyTheDevicesAskedAndRowsInAnyOrder() throws {
        let engine = try Self.engine()
        let devices = try SavedStateTests.devices()
        var loader = StateLoader(engine: engine, only: ["A", "B"])
        for (i, tuid) in ["A", "B", "C"].enumerated() {
            loader.add(DeviceRow(tuid: tuid, dryRun: false, cursorTs: devices[i].snapshot.cursor, observations: devices[i].snapshot.row))
        }
        let rows = engine.rules.indices.flatMap { i in
            ["A", "B", "C"].enumerated().map { d, tuid in
                RuleStateRow(rule: engine.rules[i].name, tuid: tuid, dryRun: false, state: devices[d].states[i].jsonRow)
            }
        }
        // Rule-major, as another store might hand them: every device is met once per rule.
        for row in rows { loader.add(row) }
        let packed = loader.finish()
        #expect(Set(packed.keys) == ["A", "B"])
        #expect(packed["A"]?.unpackedStates(rules: engine.rules.count) == devices[0].states)
        #expect(packed["B"]?.unpackedStates(rules: engine.rules.count) == devices[1].states)
        #expect(packed["B"]?.snapshot == [UInt8](devices[1].snapshot.row))
    }

    @Test func anOutcomeNamesWhatChangedAndNothingElse() throws {
        let engine = try Self.engine()
        let device = try SavedStateTests.devices()[5]
        let held = PackedDevice(snapshot: device.snapshot, states: device.states)
        let job = Scheduler.DeviceJob(
            tuid: "TSPD04ESY93100005", group: "prfi00cold", device: held, pending: [], rulebook: Rulebook(engine),
            alerting: nil, source: .poll(messages: true))
        #expect(job.states == device.states)

        var unchanged = Scheduler.DeviceOutcome(job)
        unchanged.pack(against: job)
        #expect(unchanged.packed == nil && unchanged.changedRules.isEmpty && !unchanged.snapshotChanged)
        #expect(unchanged.isPacked && unchanged.states.isEmpty)

        var oneRule = Scheduler.DeviceOutcome(job)
        oneRule.states[3].sequence += 1
        oneRule.states[3].phase = .firing
        oneRule.pack(against: job)
        #expect(oneRule.changedRules == [3] && !oneRule.snapshotChanged)
        let afterRule = try #require(oneRule.packed)
        #expect(afterRule.snapshot == held.snapshot)
        #expect(afterRule.unpackedStates(rules: engine.rules.count)[3].sequence == device.states[3].sequence + 1)
        #expect(afterRule.firing == Set(device.states.indices.filter { device.states[$0].phase == .firing } + [3]).sorted())

        var moved = Scheduler.DeviceOutcome(job)
        moved.snapshot.cursor = (device.snapshot.cursor ?? 0) + 60
        moved.pack(against: job)
        #expect(moved.changedRules.isEmpty && moved.snapshotChanged)
        #expect(moved.packed?.cursor == (device.snapshot.cursor ?? 0) + 60)
        #expect(moved.packed?.states == held.states)

        // A device not held before: everything it has is new.
        let fresh = Scheduler.DeviceJob(
            tuid: "TSPD04ESY93100099", group: nil, device: nil, pending: [], rulebook: Rulebook(engine),
            alerting: nil, source: .poll(messages: true))
        var first = Scheduler.DeviceOutcome(fresh)
        first.pack(against: fresh)
        #expect(first.snapshotChanged && first.packed?.unpackedSnapshot == DeviceSnapshot())

        // A failed poll changes nothing, whatever the outcome holds.
        var failed = Scheduler.DeviceOutcome(job)
        failed.pollFailed = true
        failed.states[0].sequence += 1
        failed.pack(against: job)
        #expect(failed.packed == nil && failed.changedRules.isEmpty && !failed.snapshotChanged)
    }
}
