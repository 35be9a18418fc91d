import Foundation
import Rules
import TestSupport
import Testing

/// A rule state's row is JSON written and read by hand (`RuleState.jsonRow`, `init(jsonRow:decoder:)`), and must
/// stay what `Codable` writes and reads: people, `sqlite3` and the reliability harness read these rows.
@Suite struct RuleStateRowTests {
    static func randomStates(count: Int) -> [RuleState] {
        var random = SplitMix64(seed: 11)
        func time() -> Int64 { 1_700_000_000 + Int64(random.next() % 10_000_000) - 5_000_000 }
        func maybe() -> Int64? { random.next() % 3 == 0 ? nil : time() }
        func changes() -> [TruthChange] {
            (0..<Int(random.next() % 5)).map { _ in
                TruthChange(time: time(), truth: Truth(rawValue: UInt8(random.next() % 3))!)
            }
        }
        return (0..<count).map { i in
            var state = RuleState()
            state.phase = [.inactive, .pending, .firing][i % 3]
            state.phaseSince = maybe()
            state.holdingSince = maybe()
            state.trackedUntil = maybe()
            state.trackedTruth = random.next() % 4 == 0 ? nil : Truth(rawValue: UInt8(random.next() % 3))
            state.reportsInARow = Int(random.next() % 40)
            state.firedAt = maybe()
            state.emittedAt = maybe()
            state.sequence = i % 5 == 0 ? 0 : Int(random.next() % 100_000)
            state.repeatsDone = Int(random.next() % 4)
            state.resolvedAt = maybe()
            state.changes = i % 7 == 0 ? [] : changes()
            state.clearChanges = changes()
            state.reports = changes()
            // As `init(from:)` reads a state without changes that holds since a time.
            if state.changes.isEmpty, let since = state.holdingSince {
                state.changes = [TruthChange(time: since, truth: .yes)]
            }
            return state
        }
    }

    @Test func theRowIsWhatCodableWritesAndReadsBack() throws {
        let decoder = JSONDecoder()
        for state in Self.randomStates(count: 500) {
            let row = state.jsonRow
            #expect(try decoder.decode(RuleState.self, from: row) == state, "\(String(decoding: row, as: UTF8.self))")
            #expect(RuleState(jsonRow: row, decoder: decoder) == state)
            #expect(RuleState(jsonRow: try JSONEncoder().encode(state), decoder: decoder) == state)
            // What the reliability harness reads with Python's json module.
            let object = try #require(try JSONSerialization.jsonObject(with: row) as? [String: Any])
            #expect(object["sequence"] as? Int == state.sequence)
        }
    }

    /// How the scheduler holds rule states between a device's turns (`write(to:)`, `init(reading:)`).
    @Test func theInMemoryLayoutReadsBackEveryState() throws {
        var extreme = RuleState()
        extreme.phaseSince = .min
        extreme.holdingSince = .max
        extreme.resolvedAt = 0
        extreme.sequence = .max
        extreme.reportsInARow = -1
        extreme.changes = [TruthChange(time: .max, truth: .yes), TruthChange(time: .min, truth: .unknown)]
        let states = Self.randomStates(count: 500) + [RuleState(), extreme]
        var writer = StateWriter()
        for state in states { state.write(to: &writer) }
        let bytes = writer.bytes
        let read = try StateReader.read(bytes) { reader in
            let list = try states.map { _ in try RuleState(reading: &reader) }
            #expect(reader.isAtEnd)
            return list
        }
        #expect(read == states)
        // Cut anywhere, or a phase or truth that is none: refused, never read past the end.
        var one = StateWriter()
        states[1].write(to: &one)
        for length in 0..<one.bytes.count {
            #expect(throws: StateBytesError.self) {
                try StateReader.read(Array(one.bytes.prefix(length))) { try RuleState(reading: &$0) }
            }
        }
        for (at, value) in [(0, UInt8(3)), (1, UInt8(7))] {
            var damaged = one.bytes
            damaged[at] = value
            #expect(throws: StateBytesError.self) { try StateReader.read(damaged) { try RuleState(reading: &$0) } }
        }
    }

    @Test func otherSpellingsOfTheSameStateAreReadTheGeneralWay() throws {
        let decoder = JSONDecoder()
        // Spaces, nulls, another order, and a row from before `changes` existed.
        let spaced =
            #"{ "sequence" : 3, "phase" : "firing", "firedAt" : null, "changes" : [ { "truth" : 1, "time" : 5 } ] }"#
        let state = try #require(RuleState(jsonRow: Data(spaced.utf8), decoder: decoder))
        #expect(state.phase == .firing && state.sequence == 3 && state.firedAt == nil)
        #expect(state.changes == [TruthChange(time: 5, truth: .yes)])
        let old = try #require(
            RuleState(jsonRow: Data(#"{"phase":"pending","holdingSince":1700000000}"#.utf8), decoder: decoder))
        #expect(old.changes == [TruthChange(time: 1_700_000_000, truth: .yes)])
        #expect(
            old
                == (try decoder.decode(
                    RuleState.self, from: Data(#"{"phase":"pending","holdingSince":1700000000}"#.utf8))))
    }

    @Test func aRowThatIsNotARuleStateIsRefused() {
        for text in [
            "", "[]", "{", #"{"phase":"melting"}"#, #"{"sequence":"x"}"#, "not json", #"{"changes":[{"time":1}]}"#,
        ] {
            #expect(RuleState(jsonRow: Data(text.utf8), decoder: JSONDecoder()) == nil, "\(text)")
        }
    }
}
