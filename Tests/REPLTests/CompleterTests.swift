import Foundation
import Testing

@testable import REPL

@Suite struct CompleterTests {
    let completer: Completer = {
        let cache = CompletionCache()
        cache.note(tuid: "TSPD04ESY93100802")
        cache.note(tuid: "TSEN01VEZ73707339")
        cache.note(group: "prfi00coldchain")
        return Completer(registry: .standard(), cache: cache)
    }()

    @Test func commandsAndSubcommands() {
        #expect(completer.candidates(line: "gr") == ["group", "groups"])
        #expect(completer.candidates(line: "group ") == ["assign", "create", "delete", "of", "rename", "things"])
        #expect(completer.candidates(line: "groups; th") == ["thing", "things"])
    }

    @Test func commandIdsAndTheirParameterNames() {
        #expect(completer.candidates(line: "send TSPD04ESY93100802 ") == ["12200", "13200", "1500", "1501"])
        #expect(
            completer.candidates(line: "send TSPD04ESY93100802 1500 ") == ["measurementInterval=", "reportInterval="])
        #expect(
            completer.candidates(line: "send TSPD04ESY93100802 1500 reportInterval=60 ") == ["measurementInterval="])
        #expect(completer.candidates(line: "send TSPD04ESY93100802 13200 th") == ["threshold="])
    }

    @Test func tuidsGroupsStatusesFlags() {
        #expect(completer.candidates(line: "thing TSP") == ["TSPD04ESY93100802"])
        #expect(completer.candidates(line: "install TSPD04ESY93100802 q") == ["quarantine"])
        #expect(completer.candidates(line: "group assign TSPD04ESY93100802 ") == ["prfi00coldchain", "unassigned"])
        #expect(completer.candidates(line: "messages TSPD04ESY93100802 --l") == ["--limit"])
        #expect(completer.candidates(line: "messages X -o ") == ["csv", "json", "jsonl", "table"])
        #expect(completer.candidates(line: "watch -n 5 mess") == ["messages"])
        #expect(completer.candidates(line: "watch -n 5 thing TSE") == ["TSEN01VEZ73707339"])
        #expect(completer.candidates(line: "help ex") == ["exit", "exit-codes", "export"])
    }

    @Test func ruleNamesPathsProfilesAndColumns() throws {
        let completer = Completer(
            registry: .standard(), cache: CompletionCache(), ruleNames: { ["low-battery", "gateway-lost"] },
            profileNames: { ["prod", "staging"] })
        #expect(completer.candidates(line: "rules explain lo") == ["low-battery"])
        #expect(completer.candidates(line: "log --rule ga") == ["gateway-lost"])
        #expect(completer.candidates(line: "profiles ") == ["prod", "staging"])
        #expect(completer.candidates(line: "things --columns tuid,bat") == ["tuid,battery"])
        #expect(completer.candidates(line: "things --sort si") == ["silence"])

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-paths-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("rules"), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(
            atPath: folder.appendingPathComponent("rules/cold.rules").path, contents: nil)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(completer.candidates(line: "rules load \(folder.path)/ru") == ["\(folder.path)/rules/"])
        #expect(completer.candidates(line: "rules load \(folder.path)/rules/c") == ["\(folder.path)/rules/cold.rules"])
    }
}
