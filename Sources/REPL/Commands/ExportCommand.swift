import Foundation
import ThingseeAPI

extension CommandDefinition {
    static let export = CommandDefinition(
        name: "export", summary: "export data across devices and a time range", usage: "messages …",
        subcommands: [exportMessages])

    static let exportMessages = CommandDefinition(
        name: "messages", summary: "every message of the selected devices in a time range, as CSV or JSONL",
        usage: "(TUID… | --group G | --where EXPR) --from T [--to T] [--id LIST] [--event LIST] [-o csv|jsonl]",
        positionals: [.tuid], variadic: true,
        flags: [
            FlagSpec(["--group", "-g"], value: "G", kind: .group, help: "the devices of group G (repeatable)"),
            FlagSpec(
                ["--where", "-w"], value: "EXPR", kind: .text,
                help: "only devices for which this rule condition holds now"),
            FlagSpec(["--from"], value: "T", kind: .time, help: "not before T (required)"),
            FlagSpec(["--to"], value: "T", kind: .time, help: "not after T (default: now)"),
            FlagSpec(["--id"], value: "IDS", kind: .text, help: "only these message ids (tsmId), comma-separated"),
            FlagSpec(["--event"], value: "EVS", kind: .text, help: "only these event ids (tsmEv), comma-separated"),
        ],
        example: "export messages --group prfi00coldchain --from -7d --id 12100 -o csv > prfi00coldchain.csv",
        notes: [
            Self.timeNote,
            "Each device's window is read page by page until a page brings nothing new (a short page is not the end), "
                + "de-duplicated and sorted by tsmTs; devices are written in selection order. Progress on standard "
                + "error when it is a terminal.",
            "JSONL (one message object per line, as the API sent it) is written device by device as it is read. CSV "
                + "has tuid,tsmId,tsmEv,tsmTs (ISO-8601) and then one column per property seen, sorted by name; as "
                + "the columns are known only at the end, the rows are kept in a private temporary file until then "
                + "(memory stays small whatever the export's size). Cells that a spreadsheet would take for a "
                + "formula are prefixed with '.",
        ]
    ) { inv in
        try await ExportMessages(inv).run()
    }
}

/// `export messages`: select, page every device's window, write CSV or JSONL.
struct ExportMessages {
    let inv: Invocation
    static let pageSize = 1000

    init(_ inv: Invocation) { self.inv = inv }

    func run() async throws {
        let format: OutputFormat
        if let explicit = inv.arguments.value("-o") {
            format = try OutputFormat.parse(explicit)
            guard format == .csv || format == .jsonl else {
                throw CommandError.usage("export messages writes csv or jsonl, not \(format.rawValue)")
            }
        } else {
            format = inv.output == .jsonl ? .jsonl : .csv
        }
        guard let from = try inv.time("--from") else {
            throw CommandError.usage("export messages: --from T is required (e.g. --from -24h)")
        }
        let to = try inv.time("--to") ?? inv.context.now
        guard from <= to else { throw CommandError.usage("export messages: --from is later than --to") }
        let ids = try inv.intList("--id")
        let events = try inv.intList("--event")
        guard !inv.positionals.isEmpty || inv.arguments.has("--group") || inv.arguments.has("--where") else {
            throw CommandError.usage(
                "export messages: name the devices: TUIDs, --group G or --where EXPR; usage: export messages "
                    + inv.command.usage)
        }
        let selection = try FleetSelection.parse(inv, tuids: inv.positionals)
        let fetcher = FleetFetcher(client: inv.client)
        let (devices, unreadable, considered) = try await selection.resolve(fetcher) {
            inv.progress("selecting", total: $0)
        }
        let tuids = devices.map(\.tuid)

        let writer = try ExportWriter(format: format, console: inv.console)
        let bar = inv.progress("export", total: tuids.count)
        var failed = unreadable
        var count = 0
        let client = inv.client
        // A few devices at a time, written in selection order.
        for start in stride(from: 0, to: tuids.count, by: 8) {
            let chunk = Array(tuids[start..<min(start + 8, tuids.count)])
            let results = await concurrentMap(chunk, limit: 8) { tuid -> Result<[Message], any Error> in
                do {
                    return .success(
                        try await Self.window(client, tuid, from: from, to: to, ids: ids, events: events))
                } catch {
                    return .failure(error)
                }
            }
            try Task.checkCancellation()
            for (tuid, result) in zip(chunk, results) {
                switch result {
                case .success(let messages):
                    try writer.write(messages)
                    count += messages.count
                case .failure(let error):
                    failed.append((tuid, error))
                }
                bar?.advance(extra: "\(count) messages")
            }
        }
        bar?.finish()
        try writer.finish()
        inv.note("exported \(count) messages of \(tuids.count - (failed.count - unreadable.count)) devices")
        try ThingsCommand.reportFailures(failed, of: considered, inv: inv, verb: "exported")
    }

    /// Every message of one device in `[from, to]`: paged by time until a page brings nothing new, whichever order
    /// the API lists a page in; de-duplicated on `tsmTuid:tsmId:tsmEv:tsmTs` and sorted by `tsmTs`.
    static func window(
        _ client: ThingseeClient, _ tuid: String, from: Int64, to: Int64, ids: [Int], events: [Int]
    ) async throws -> [Message] {
        var seen = Set<String>()
        var all: [Message] = []
        var lower = from
        var upper = to
        while lower <= upper {
            let page = try await client.messages(
                tuid, MessageQuery(limit: pageSize, messageIDs: ids, eventIDs: events, from: lower, to: upper))
            var fresh = 0
            for m in page where seen.insert(m.deduplicationKey).inserted {
                all.append(m)
                fresh += 1
            }
            guard fresh > 0, let first = page.first, let last = page.last else { break }
            // Go on past the page's far end (inclusive: the rest of that second may not have fit in the page).
            if first.tsmTs >= last.tsmTs {
                upper = page.map(\.tsmTs).min()!
            } else {
                lower = page.map(\.tsmTs).max()!
            }
        }
        all.sort { ($0.tsmTs, $0.tsmId, $0.tsmEv) < ($1.tsmTs, $1.tsmId, $1.tsmEv) }
        return all
    }
}

/// Writes exported messages: JSONL straight through; CSV through a private spool file, as its columns (the
/// properties seen) are known only once every message has been read.
final class ExportWriter {
    let format: OutputFormat
    let console: Console
    private var spool: FileHandle?
    private var spoolPath: String?
    private var properties = Set<String>()
    static let header = ["tuid", "tsmId", "tsmEv", "tsmTs"]

    init(format: OutputFormat, console: Console) throws {
        self.format = format
        self.console = console
        if format == .csv {
            let path = NSTemporaryDirectory() + "tsee-export-\(UUID().uuidString).jsonl"
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
                let handle = FileHandle(forWritingAtPath: path)
            else { throw CommandError.failed("cannot create a temporary file for the CSV export in \(path)", .usage) }
            spool = handle
            spoolPath = path
        }
    }

    deinit {
        if let spoolPath { try? FileManager.default.removeItem(atPath: spoolPath) }
    }

    func write(_ messages: [Message]) throws {
        guard !messages.isEmpty else { return }
        var text = ""
        for m in messages {
            text += m.raw.description + "\n"
            if format == .csv { properties.formUnion(Self.propertyKeys(m)) }
        }
        if let spool { spool.write(Data(text.utf8)) } else { console.out(text) }
    }

    static func propertyKeys(_ m: Message) -> [String] {
        (m.raw.objectValue ?? [:]).keys.filter { !["tsmTuid", "tsmId", "tsmEv", "tsmTs"].contains($0) }
    }

    func finish() throws {
        guard let spool, let spoolPath else { return }
        try spool.close()
        let columns = properties.sorted()
        console.out((Self.header + columns).map(CSVFormatter.field).joined(separator: ",") + "\r\n")
        guard let reader = FileHandle(forReadingAtPath: spoolPath) else { return }
        defer { try? reader.close() }
        var pending = Data()
        func emit(line: Data) {
            guard let message = try? JSONValue.parse(line), let o = message.objectValue else { return }
            var cells = [
                CSVFormatter.cell(o["tsmTuid"]), CSVFormatter.cell(o["tsmId"]), CSVFormatter.cell(o["tsmEv"]),
                o["tsmTs"]?.doubleValue.map { ISOTime.format(Int64($0)) } ?? "",
            ]
            for column in columns { cells.append(CSVFormatter.cell(o[column])) }
            console.out(cells.joined(separator: ",") + "\r\n")
        }
        while let chunk = try reader.read(upToCount: 1 << 16), !chunk.isEmpty {
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 10) {
                emit(line: pending[pending.startIndex..<newline])
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
        if !pending.isEmpty { emit(line: pending) }
    }
}
