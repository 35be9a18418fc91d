import Foundation
import ThingseeAPI

/// Decoding message pages as the API sends them, through the client's own path.
enum DecodeBenchmark {
    /// One page body of `count` messages, newest first, shaped like the API's (and the simulator's): header
    /// fields first, then the profile's properties with the decimals devices report.
    static func page(count: Int, device: Int, newest: Int64) -> Data {
        let tuid = "TSPD04" + String(format: "EX%09d", device)
        let gateway = "TSGW01" + String(format: "EX%09d", device / 21)
        var random = SystemRandomNumberGenerator.Seeded(seed: UInt64(device) &+ 7)
        var text = "{\"data\":["
        text.reserveCapacity(count * 210)
        var time = newest
        for i in 0..<count {
            if i > 0 { text += "," }
            let id = [12100, 12101, 1110][i % 3]
            text += "{\"tsmId\":\(id),\"tsmEv\":10,\"tsmTs\":\(time),\"tsmTuid\":\"\(tuid)\","
            text += "\"tsmGw\":\"\(gateway)\",\"deploymentGroupId\":\"prfi00coldchain\","
            switch id {
            case 12100:
                let temp = (random.uniform(2, 9) * 100).rounded() / 100
                let humd = (random.uniform(70, 90) * 10).rounded() / 10
                let airp = (random.uniform(100_000, 102_000) * 10).rounded() / 10
                text += "\"temp\":\(temp),\"humd\":\(humd),\"airp\":\(airp),\"lght\":\(Int(random.uniform(0, 40)))}"
            case 12101:
                text += "\"hall\":\(random.bit() ? 1 : 0),\"hallCount\":\(12_000 + i)}"
            default:
                text += "\"batl\":\((random.uniform(10, 100) * 10).rounded() / 10),\"chrg\":0}"
            }
            if i % 3 == 2 { time -= 300 }
        }
        text += "]}"
        return Data(text.utf8)
    }

    static func measure(into report: Report, quick: Bool) {
        let pages = (0..<(quick ? 5 : 20)).map { page(count: 1000, device: $0, newest: 1_700_000_000) }
        let bytes = pages.reduce(0) { $0 + $1.count }
        let messages = pages.count * 1000
        // A wrong decoding must fail the benchmark, not flatter it.
        let check = try! Message.decodePage(pages[0])
        precondition(check.count == 1000 && check[0].properties["temp"] != nil, "page decoding lost data")

        let repetitions = quick ? 3 : 5
        var samples: [Double] = []
        for _ in 0..<repetitions {
            var decoded = 0
            let elapsed = seconds {
                for page in pages { decoded += (try? Message.decodePage(page).count) ?? 0 }
            }
            precondition(decoded == messages)
            samples.append(elapsed)
        }
        let time = median(samples)
        log("decode: \(pages.count) pages, \(bytes) bytes, \(bytes / messages) bytes per message")
        report.add(
            Metric(
                name: "decode: messages/s", value: Double(messages) / time, unit: "msg/s",
                note: "\(pages.count) pages × 1000 messages, median of \(repetitions)",
                samples: samples.map { Double(messages) / $0 }))
        report.add(
            Metric(
                name: "decode: MB/s", value: Double(bytes) / time / 1e6, unit: "MB/s",
                note: "\(bytes / messages) bytes per message", samples: samples.map { Double(bytes) / $0 / 1e6 }))
    }
}
