import Foundation
import Testing
import ThingseeAPI

@testable import REPL

@Suite struct OutputTests {
    let data: JSONValue = [["group_id": "a", "group_description": "x, \"y\""], ["group_id": "b"]]

    @Test func jsonIsThePayloadIndentedWithSortedKeys() throws {
        let text = Rendered(data: data).formatted(.json)
        #expect(try JSONValue.parse(Data(text.utf8)) == data)
        #expect(text.hasPrefix("[\n  {\n    \"group_description\""))
    }

    @Test func jsonlIsOneCompactObjectPerLine() {
        #expect(
            Rendered(data: data).formatted(.jsonl)
                == "{\"group_description\":\"x, \\\"y\\\"\",\"group_id\":\"a\"}\n{\"group_id\":\"b\"}\n")
    }

    @Test func csvQuotesAndLeavesMissingCellsEmpty() {
        #expect(Rendered(data: data).formatted(.csv) == "group_description,group_id\r\n\"x, \"\"y\"\"\",a\r\n,b\r\n")
    }

    @Test func tableAlignsColumns() {
        let table = Table(columns: ["group", "description"], rows: [["a", "first"], ["long-name", "second"]])
        #expect(table.render() == "group      description\na          first\nlong-name  second\n")
        #expect(Table(columns: ["x"]).render() == "(none)\n")
    }

    @Test func timesShowIsoAndAge() {
        #expect(TimeText.describe(1_800_000_000 - 720, now: 1_800_000_000) == "2027-01-15T07:48:00Z (12 min ago)")
        #expect(TimeText.ago(1_800_000_000, now: 1_800_000_000 + 2 * 86400) == "2 d ago")
        #expect(TimeText.describe(nil, now: 0) == "-")
    }

    @Test func chartHasAxisLabelsRangeAndExtremes() {
        let points = (0..<48).map { SeriesPoint(ts: 1_800_000_000 + Int64($0) * 1800, value: 80 - Double($0) * 0.5) }
        let text = Chart(title: "T batl (%)", points: points, width: 40, height: 8).render()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "T batl (%)")
        #expect(lines[1].hasPrefix("   80 ┤"))
        #expect(lines[8].hasPrefix("56.50 ┤"))
        #expect(text.contains("2027-01-15T08:00:00Z"))
        #expect(text.contains("min 56.50 at 2027-01-16T07:30:00Z · max 80 at 2027-01-15T08:00:00Z · 48 points"))
        // A falling series: the first column's dots are in the top row, the last column's in the bottom row.
        let top = Array(lines[1].unicodeScalars.suffix(40))
        let bottom = Array(lines[8].unicodeScalars.suffix(40))
        #expect(top.first!.value != 0x2800 && top.last!.value == 0x2800)
        #expect(bottom.last!.value != 0x2800 && bottom.first!.value == 0x2800)
    }

    @Test func chartOfNothingSaysSo() {
        #expect(Chart(title: "T temp", points: []).render() == "T temp: no values\n")
    }
}

@Suite struct InertOutputTests {
    @Test func csvCellsThatLookLikeFormulasArePrefixed() {
        let data: JSONValue = [
            ["a": "=HYPERLINK(\"x\")", "b": "+1", "c": "-2+3", "d": "@SUM(A1)", "e": -3.5, "f": "ok"]
        ]
        #expect(
            Rendered(data: data).formatted(.csv)
                == "a,b,c,d,e,f\r\n\"'=HYPERLINK(\"\"x\"\")\",'+1,'-2+3,'@SUM(A1),-3.5,ok\r\n")
    }

    @Test func csvColumnsKeepTheirGivenOrder() {
        let data: JSONValue = [["tuid": "T", "battery": 5]]
        #expect(Rendered(data: data, csvColumns: ["tuid", "battery"]).formatted(.csv) == "tuid,battery\r\nT,5\r\n")
    }

    @Test func tableCellsShowControlCharactersEscaped() {
        let table = Table(columns: ["v"], rows: [["red\u{1B}[31m\r\nx\u{7F}"]])
        #expect(table.render() == "v\nred\\u{1B}[31m\\u{D}\\u{A}x\\u{7F}\n")
    }

    @Test func textOutputKeepsLinesTabsAndColourButNoOtherEscape() {
        // A value from the API inside an explanation or a chart: a window-title escape, a cursor move, a carriage
        // return overwriting the line. Our own colour and layout survive.
        let text = "\u{1B}[1mrule\u{1B}[0m\tok\nvalue \u{1B}]0;pwned\u{07} \u{1B}[2J\rhidden\n"
        #expect(
            Rendered(data: .null, text: text).formatted(.table)
                == "\u{1B}[1mrule\u{1B}[0m\tok\nvalue \\u{1B}]0;pwned\\u{7} \\u{1B}[2J\\u{D}hidden\n")
        #expect(Rendered(data: .null, text: "plain\nlines").formatted(.table) == "plain\nlines\n")
    }
}
