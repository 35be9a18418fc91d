import Foundation
import TestSupport
import Testing

@testable import ThingseeAPI

@Suite("Tolerant decoding")
struct DecodingTests {
    let reader = PayloadReader(endpoint: "GET /test")

    func json(_ text: String) throws -> JSONValue { try JSONValue.parse(Data(text.utf8)) }

    @Test func messageKeepsEveryPropertyAndAcceptsNumbersInAnyForm() throws {
        let data = try json(
            """
            [{"tsmId": 1110, "tsmEv": "10", "tsmTs": 1559638241.0, "tsmTuid": "TSPD04ESY93100802",
              "tsmGw": "TSGW01ABCDEFGHIJK", "deploymentGroupId": "foo", "batl": 74.5, "chrg": 0,
              "extra": {"nested": [1, 2]}, "label": "x"}]
            """)
        let m = try #require(try reader.messagesSkippingUnusable(data).messages.first)
        #expect(m.tsmId == 1110)
        #expect(m.tsmEv == 10)
        #expect(m.tsmTs == 1_559_638_241)
        #expect(m.properties["batl"]?.doubleValue == 74.5)
        #expect(m.properties["extra"]?["nested"] == [1, 2])
        #expect(m.properties["label"] == "x")
        #expect(m.properties["tsmId"] == nil)
        #expect(m.deduplicationKey == "TSPD04ESY93100802:1110:10:1559638241")
    }

    @Test func unusableItemsAreSkippedAndCountedAndTheRestOfThePageIsUsed() throws {
        let data = try json(
            """
            [{"tsmId": 1110, "tsmEv": 10, "tsmTs": 100, "tsmTuid": "TSPD04ESY93100802", "batl": 50},
             {"tsmId": 1110, "tsmEv": 10, "tsmTs": 101, "batl": 40},
             {"tsmId": 1500, "tsmEv": 30, "tsmTs": 102, "tsmDstTuid": "TSPD04ESY93100802", "reportInterval": 60},
             {"tsmId": 17100, "tsmEv": 18, "tsmTuid": "TSPD04ESY93100802"},
             {"tsmId": 12100, "tsmEv": 10, "tsmTs": 104, "tsmTuid": "TSPD04ESY93100802", "temp": 21}]
            """)
        let (messages, skipped) = try reader.messagesSkippingUnusable(data)
        #expect(messages.map(\.tsmTs) == [100, 104])
        #expect(skipped.count == 3)
        #expect(try Message.decodePage(Data(#"{"data": \#(data.description)}"#.utf8)).count == 2)
    }

    @Test func somethingThatIsNoMessageAtAllFailsThePageNamingTheField() throws {
        for (item, field) in [
            (#"{"tsmId": 1110, "tsmEv": 10, "tsmTuid": "X"}"#, "data[1].tsmTs"),
            (#"{"tsmEv": 10, "tsmTs": 103, "tsmTuid": "X"}"#, "data[1].tsmId"),
            (#"{"tsmId": 1110, "tsmEv": 10, "tsmTs": 103, "tsmTuid": [7]}"#, "data[1].tsmTuid"),
            (#"{"junk": 1, "filler": "x"}"#, "data[1].tsmTs"),
            (#""not an object""#, "data[1]"),
        ] {
            let page = try json(#"[{"tsmId": 1110, "tsmEv": 10, "tsmTs": 100, "tsmTuid": "X"}, \#(item)]"#)
            #expect {
                try reader.messagesSkippingUnusable(page)
            } throws: { error in
                (error as? ThingseeError)?.description.contains("field `\(field)`") == true
            }
        }
    }

    @Test func pageThatIsNotAListNamesEndpointAndField() throws {
        #expect {
            try reader.messagesSkippingUnusable(try json(#"{"tsmId": 1}"#))
        } throws: { error in
            (error as? ThingseeError)?.description
                == "GET /test: unexpected response: field `data` is not a list (got an object)"
        }
    }

    @Test func fleetAlertCallsDecode() throws {
        #expect(try reader.alertingTUIDs(try json(#"{"alerting_tuids": ["A", {"tuid": "B"}]}"#)) == ["A", "B"])
        #expect(try reader.alertingTUIDs(try json(#"["A"]"#)) == ["A"])
        #expect(try reader.alertCount(try json(#"{"alert_count": "207"}"#)) == 207)
        #expect(try reader.alertCount(try json(#"{"alert_count": 3}"#)) == 3)
        #expect(throws: ThingseeError.self) { try reader.alertCount(try json(#"{"alert_count": "many"}"#)) }
    }

    @Test func groupThingsAcceptsStringsOrObjects() throws {
        let plain = try reader.groupThings(try json(#"{"group_id": "g", "tuids": ["A", "B"]}"#))
        #expect(plain.tuids == ["A", "B"])
        let objects = try reader.groupThings(
            try json(#"{"group_id": "g", "tuids": [{"tuid": "A"}, {"tuid": "B", "x": 1}]}"#))
        #expect(objects.tuids == ["A", "B"])
        let bare = try reader.groupThings(try json(#"["A"]"#))
        #expect(bare.tuids == ["A"])
    }

    @Test func alertsWithOngoingEpisodeAndZonelessTimes() throws {
        let records = try reader.alerts(
            try json(
                #"[{"tuid": "T", "alert_type": "gateway connection lost", "alerts": [{"from": "2019-12-03T07:22:19", "to": "2019-12-03T07:32:19"}, {"from": "2019-12-03T08:00:00"}]}]"#
            ))
        let record = try #require(records.first)
        #expect(record.episodes[0].from == 1_575_357_739)
        #expect(record.episodes[0].to == 1_575_358_339)
        #expect(record.episodes[1].to == nil)
    }

    @Test func commandHistoryNestedOrFlat() throws {
        let entries = try reader.commandHistory(
            try json(
                #"[{"tuid": "T", "timestamp": 10, "responsible": "api-user", "command": {"tsmId": 1500, "transactionId": 7}}, {"tsmId": 1501, "tsmDstTuid": "T", "tsmTs": 5, "transactionId": 8}]"#
            ))
        #expect(entries[0].transactionId == 7)
        #expect(entries[1].tsmId == 1501)
        #expect(entries[1].tuid == "T")
        #expect(entries[1].timestamp == 5)
    }

    @Test func thingInfoWithIntegerOrDecimalBattery() throws {
        let a = try reader.thing(
            try json(#"{"battery_level": 86, "location": {"lat": 65, "lon": 25.52}, "version": "v"}"#))
        #expect(a.batteryLevel == 86)
        #expect(a.latitude == 65)
        let b = try reader.thing(try json(#"{"battery_level": "85.5", "unknown": true}"#))
        #expect(b.batteryLevel == 85.5)
        #expect(b.raw["unknown"] == true)
    }

    @Test func deletionAndInstallation() throws {
        #expect(try reader.groupDeletion(try json(#"{"group_id": "g", "deleted": true}"#)).deleted)
        let i = try reader.installation(
            try json(#"{"tuid": "T", "installation_status": "installed", "group_id": "g"}"#))
        #expect(i.installationStatus == "installed")
        #expect(i.groupId == "g")
    }

    @Test func isoAndHTTPDates() {
        #expect(ISOTime.parse("2019-12-03T07:22:19") == 1_575_357_739)
        #expect(ISOTime.parse("2019-12-03T07:22:19Z") == 1_575_357_739)
        #expect(ISOTime.parse("2019-12-03T09:22:19+02:00") == 1_575_357_739)
        #expect(ISOTime.parse("2019-12-03T07:22:19.250Z") == 1_575_357_739)
        #expect(ISOTime.parse("2019-13-03T07:22:19") == nil)
        #expect(ISOTime.format(1_575_357_739) == "2019-12-03T07:22:19Z")
        #expect(ISOTime.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(ISOTime.formatHTTPDate(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func jsonValueRoundTripsIntegersWithoutFraction() throws {
        let v = try json(#"{"a": 1, "b": 1.5, "c": [true, null, "s"]}"#)
        #expect(v.description == #"{"a":1,"b":1.5,"c":[true,null,"s"]}"#)
    }
}
