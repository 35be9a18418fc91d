import Foundation
import Testing

/// Exit codes, validation, scripts (`-c`, `-f`, stdin), variables and global options.
@Suite(.serialized) struct ScriptTests {
    @Test func invalidCommandsExitTwoAndSendNothing() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let tuid = fleet.sensor
        let before = await fleet.requests
        let invalid: [[String]] = [
            ["send", tuid, "1502", "x=1"],
            ["send", tuid, "1500", "threshold=100"],
            ["send", tuid, "1500", "reportInterval=60", "--tx", "2147483648"],
            ["install", tuid, "broken"],
            ["group", "create", "two words"],
            ["group", "create", "unassigned"],
            ["messages", tuid, "--limit", "0"],
            ["messages", tuid, "--limit", "1.5"],
            ["messages", tuid, "--from", "yesterday"],
            ["thing", "tspd04"],
            ["thing"],
            ["frobnicate"],
            ["messages", tuid, "--bogus"],
        ]
        for words in invalid {
            let result = try await Tsee.run(words, environment: fleet.environment)
            #expect(result.status == 2, "\(words): \(result.stderr)")
            #expect(result.stderr.contains("error:"), "\(words)")
            #expect(!result.stderr.contains("Fatal error"), "\(words)")
        }
        let malformed = try await fleet.tsee("thing", "tspd04")
        #expect(malformed.stderr.contains("not a TUID"))
        let after = await fleet.requests
        #expect(after.total == before.total, "validation failures must send nothing")
    }

    @Test func apiFailuresMapToTheirExitCodes() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let missing = try await fleet.tsee("thing", "TSPD04AAAAAAAAAAA")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("404") && missing.stderr.contains("not found"))

        let badSecret = try await fleet.tsee(
            "groups", environment: ["THINGSEE_CLIENT_SECRET": "wrong"])
        #expect(badSecret.status == 3)
        #expect(badSecret.stderr.contains("authentication failed") && !badSecret.stderr.contains("wrong"))

        let unreachable = try await Tsee.run(
            ["groups"],
            environment: [
                "THINGSEE_BASE_URL": "http://127.0.0.1:9/prod/v1", "THINGSEE_CLIENT_ID": "x",
                "THINGSEE_CLIENT_SECRET": "y",
            ])
        #expect(unreachable.status == 4)
        #expect(unreachable.stderr.contains("unreachable"))
    }

    @Test func quotingKeepsDescriptionsTogether() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let created = try await fleet.tsee("-c", "group create cold-rooms \"Cold storage rooms\"; groups cold-rooms")
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.contains("\"group_description\": \"Cold storage rooms\""))
        let rejected = try await fleet.tsee("-c", "group create 'two words'")
        #expect(rejected.status == 2)
        #expect(rejected.stderr.contains("`two words` is not a valid group id"))
    }

    @Test func commandStringFileAndStandardInput() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let tuid = fleet.sensor
        let script = """
            # set a variable, then use it
            set dev \(tuid)

            thing $dev -o jsonl
            thing ${dev} -o jsonl   # twice
            """
        let fromString = try await fleet.tsee("-c", script)
        #expect(fromString.status == 0, "\(fromString.stderr)")
        #expect(fromString.stdout.split(separator: "\n").count == 2)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-\(UUID().uuidString).tsee")
        try Data((script + "\nthing BAD\nthing $dev -o jsonl\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let stopped = try await fleet.tsee("-f", file.path)
        #expect(stopped.status == 2)
        #expect(stopped.stderr.contains("\(file.path):6: error: `BAD` is not a TUID"))
        #expect(stopped.stdout.split(separator: "\n").count == 2, "stops at the failure")

        let continued = try await fleet.tsee("-f", file.path, "--on-error", "continue")
        #expect(continued.status == 2, "the first non-zero code")
        #expect(continued.stdout.split(separator: "\n").count == 3, "runs on after the failure")

        let piped = try await fleet.tsee(stdin: script + "\nthing TSPD04AAAAAAAAAAA\n")
        #expect(piped.status == 1)
        #expect(piped.stdout.split(separator: "\n").count == 2)
        #expect(!piped.stdout.contains("tsee["), "no prompt on a pipe")
        #expect(piped.stderr.contains("stdin:6: error:"))

        let exits = try await fleet.tsee("-c", "exit 3; thing \(tuid)")
        #expect(exits.status == 3 && exits.stdout.isEmpty)
        let undefined = try await fleet.tsee("-c", "thing $nothing")
        #expect(undefined.status == 2 && undefined.stderr.contains("undefined variable $nothing"))
    }

    @Test func globalOptionsMayFollowTheCommand() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let tuid = fleet.sensor
        let before = try await fleet.tsee("-o", "jsonl", "thing", tuid)
        let after = try await fleet.tsee("thing", tuid, "-o", "jsonl")
        #expect(before.status == 0 && before.stdout == after.stdout && before.stdout.split(separator: "\n").count == 1)
        let csv = try await fleet.tsee("groups", "--output", "csv", "--on-error", "continue")
        #expect(csv.stdout.hasPrefix("group_description,group_id\r\n"))
        let relative = try await fleet.tsee("messages", tuid, "--from", "-1h", "--limit", "2")
        #expect(relative.status == 0, "\(relative.stderr)")
        // Connection options after the command, too.
        let url = try await Tsee.run(
            ["groups", "--base-url", fleet.url.absoluteString, "--client-id", "sim", "-o", "jsonl"],
            environment: ["THINGSEE_CLIENT_SECRET": "sim-secret"])
        #expect(url.status == 0 && url.stdout.contains("prfi00warehousenorth"), "\(url.stderr)")
    }

    @Test func withoutABaseURLTheBuiltInSimulatorIsUsed() async throws {
        let result = try await Tsee.run(["groups", "-o", "jsonl"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("no THINGSEE_BASE_URL set; using the built-in simulator at http://127.0.0.1:"))
        #expect(result.stdout.contains("\"group_id\":\"prfi00warehousenorth\""))
    }

    @Test func secretFileIsReadAndNeverEchoed() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)")
        try Data("sim-secret\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let ok = try await Tsee.run(
            ["--base-url", fleet.url.absoluteString, "--client-id", "sim", "--client-secret-file", file.path, "groups"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let none = try await Tsee.run(["--base-url", fleet.url.absoluteString, "--client-id", "sim", "groups"])
        #expect(none.status == 2 && none.stderr.contains("THINGSEE_CLIENT_SECRET"))
    }
}
