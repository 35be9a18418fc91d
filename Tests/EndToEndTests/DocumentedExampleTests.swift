import Foundation
import Testing

/// The examples of the REPL's documentation work on a fresh machine: every TUID they name exists in the default
/// simulated fleet (40 devices, seed 1), so a newcomer's first copy-paste does not answer 404.
@Suite struct DocumentedExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// TUIDs in the text, except in lines that show a 404 on purpose.
    static func tuids(in file: String) throws -> Set<String> {
        let text = try String(contentsOf: repository.appendingPathComponent(file), encoding: .utf8)
        let pattern = try NSRegularExpression(pattern: "\\bTS[A-Z0-9]{4}[A-Z0-9]{11}\\b")
        var found = Set<String>()
        for line in text.split(separator: "\n") where !line.contains("404") {
            let s = String(line)
            for match in pattern.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                found.insert(String(s[Range(match.range, in: s)!]))
            }
        }
        return found
    }

    @Test(arguments: ["README.md", "docs/repl.md"])
    func everyTUIDInTheDocsExistsInTheDefaultFleet(file: String) async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let known = Set(fleet.server.deviceTUIDs())
        let named = try Self.tuids(in: file)
        #expect(!named.isEmpty)
        #expect(named.subtracting(known).isEmpty, "\(file) names TUIDs the default fleet lacks")
        for tuid in named {
            let thing = try await fleet.tsee("thing", tuid)
            #expect(thing.status == 0, "\(file): thing \(tuid): \(thing.stderr)")
        }
    }
}
