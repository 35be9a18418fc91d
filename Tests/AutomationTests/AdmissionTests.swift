import Foundation
import Testing
import ThingseeAPI

@testable import Automation

/// `DeviceSnapshot.admit` is the one place where a message counts once, and its floor is what two savings rest
/// on: the engine keeps message times only for `silence` (no de-duplication of its own against a day of them),
/// and the lazy installation status treats a false older than the floor as final (`DeviceStep.Input.reportsFrom`).
@Suite("Admission: once, and nothing older than the floor")
struct AdmissionTests {
    static let tuid = "TSPD04ESY93100802"

    static func message(at time: Int64, id: Int = 12100) throws -> ThingseeAPI.Message {
        let json = #"{"tsmId":\#(id),"tsmEv":10,"tsmTs":\#(time),"tsmTuid":"\#(tuid)","temp":5}"#
        return try #require(try ThingseeAPI.Message.decode(json: Data(json.utf8), source: "test"))
    }

    @Test func aMessageCountsOnceAndNothingOlderThanTheFloorCountsAtAll() throws {
        var snapshot = DeviceSnapshot()
        #expect(snapshot.admissionFloor(overlap: 600) == nil)
        let first = snapshot.admit([try Self.message(at: 10_000), try Self.message(at: 10_000)], overlap: 600)
        #expect(first.fresh.count == 1 && first.duplicates == 1)
        #expect(snapshot.admissionFloor(overlap: 600) == 9_400)

        // Within the window: the same message again is a duplicate, another one at the same time is not.
        let again = snapshot.admit(
            [try Self.message(at: 10_000), try Self.message(at: 10_000, id: 1110)], overlap: 600)
        #expect(again.fresh.map(\.tsmId) == [1110] && again.duplicates == 1)

        // At the floor it still counts; below it, new or not, it is stale, and the floor only moves on.
        let late = snapshot.admit([try Self.message(at: 9_400), try Self.message(at: 9_399)], overlap: 600)
        #expect(late.fresh.map(\.tsmTs) == [9_400] && late.stale == 1)
        _ = snapshot.admit([try Self.message(at: 20_000)], overlap: 600)
        #expect(snapshot.admissionFloor(overlap: 600) == 19_400)
        let old = snapshot.admit([try Self.message(at: 10_000, id: 13100)], overlap: 600)
        #expect(old.fresh.isEmpty && old.stale == 1)
    }
}
