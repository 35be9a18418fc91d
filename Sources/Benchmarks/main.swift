import Foundation

// tsee-bench: the numbers of BENCHMARKS.md. Run through `scripts/bench` (release build).
//
//   tsee-bench [--quick] [--only rules,decode,sqlite,postgres,stream,scheduler,scale,startup,peer] [--json PATH] [--tsee PATH]

var quick = false
var only: Set<String>?
var jsonPath = "bench-results/latest.json"
var tseePath = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tsee").path
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--quick": quick = true
    case "--only": only = Set((arguments.popFirst() ?? "").split(separator: ",").map(String.init))
    case "--json": jsonPath = arguments.popFirst() ?? jsonPath
    case "--tsee": tseePath = arguments.popFirst() ?? tseePath
    default:
        log("usage: tsee-bench [--quick] [--only rules,decode,sqlite,postgres,stream,scheduler,scale,startup,peer] [--json PATH] [--tsee PATH]")
        exit(2)
    }
}
let selected = only
func wanted(_ name: String) -> Bool { selected?.contains(name) ?? true }

// The simulator runs on loopback; no request of the benchmarks or of the tsee it starts may go to a proxy.
setenv("no_proxy", "127.0.0.1,localhost", 1)
setenv("NO_PROXY", "127.0.0.1,localhost", 1)

let report = Report()
let workDirectory = NSTemporaryDirectory() + "tsee-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: workDirectory) }

report.machine = Machine.describe()
report.machine["quick"] = quick ? "yes" : "no"
log("tsee-bench: \(report.machine["cpu"] ?? "?"), \(report.machine["cores"] ?? "?") cores\(quick ? ", quick" : "")")

if wanted("rules") { RuleBenchmark.measure(into: report, quick: quick) }
if wanted("decode") { DecodeBenchmark.measure(into: report, quick: quick) }
if wanted("sqlite") { try await StoreBenchmark.measure(into: report, quick: quick, workDirectory: workDirectory) }
if wanted("postgres") {
    try await PostgresStoreBenchmark.measure(into: report, quick: quick, workDirectory: workDirectory)
}
let processes = ProcessBenchmarks(tsee: tseePath, workDirectory: workDirectory, quick: quick)
if wanted("scheduler") || wanted("scale") || wanted("startup") || wanted("peer") || wanted("stream") {
    guard FileManager.default.isExecutableFile(atPath: tseePath) else {
        log("tsee-bench: no tsee binary at \(tseePath); build it (swift build -c release) or pass --tsee PATH")
        exit(1)
    }
}
if wanted("stream") { try await StreamBenchmark.measure(into: report, quick: quick, workDirectory: workDirectory, tsee: tseePath) }
if wanted("startup") { try processes.measureStartup(into: report) }
if wanted("scheduler") { try await processes.measureScheduler(into: report) }
if wanted("scale") { try await processes.measureScale(into: report) }
if wanted("peer") { try await processes.measurePeer(into: report) }

print(report.table(), terminator: "")
let directory = URL(fileURLWithPath: jsonPath).deletingLastPathComponent().path
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
try report.json().write(to: URL(fileURLWithPath: jsonPath))
log("tsee-bench: wrote \(jsonPath)")
