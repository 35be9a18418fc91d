import Foundation
import TestSupport
import Testing

/// Profiles of the configuration file, through the built binary against two simulators.
@Suite(.serialized) struct ProfileTests {
    /// A private folder with `cfg/tsee/config.toml` (mode `mode`) and a secret file, and the environment for it.
    struct Setup {
        let folder: String
        var environment: [String: String] {
            ["XDG_CONFIG_HOME": folder + "/cfg", "XDG_STATE_HOME": folder + "/state", "HOME": folder]
        }

        init(_ config: (String) -> String, mode: Int = 0o600) throws {
            folder =
                FileManager.default.temporaryDirectory.appendingPathComponent("tsee-profiles-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: folder + "/cfg/tsee", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(
                atPath: folder + "/secret", contents: Data("sim-secret\n".utf8), attributes: [.posixPermissions: 0o600])
            _ = FileManager.default.createFile(
                atPath: folder + "/cfg/tsee/config.toml", contents: Data(config(folder).utf8),
                attributes: [.posixPermissions: mode])
            try FileManager.default.createDirectory(atPath: folder + "/rules", withIntermediateDirectories: true)
            _ = FileManager.default.createFile(
                atPath: folder + "/rules/all.rules",
                contents: Data("rule everyone: when battery above -1 then log \"{tuid}\"\n".utf8))
        }

        func run(_ arguments: String..., environment extra: [String: String] = [:]) async throws -> Outcome {
            try await Tsee.run(arguments, environment: environment.merging(extra) { _, new in new })
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    static func twoProfiles(_ a: Fleet, _ b: Fleet) -> (String) -> String {
        { folder in
            """
            default_profile = "alpha"
            [profile.alpha]
            base_url = "\(a.url.absoluteString)"
            client_id = "sim"
            client_secret_file = "\(folder)/secret"
            [profile.beta]
            base_url = "\(b.url.absoluteString)"
            client_id = "sim"
            client_secret_command = "cat '\(folder)/secret'"
            [notify.ops]
            url = "https://hooks.example.com/services/T000"
            headers = { Authorization = "env:OPS_HOOK_TOKEN" }

            """
        }
    }

    @Test func twoProfilesOnTwoSimulatorsNeverShareADatabase() async throws {
        let a = try await Fleet.start { $0.devices = 12 }
        let b = try await Fleet.start {
            $0.devices = 5; $0.seed = 9
        }
        defer {
            Task {
                await a.stop(); await b.stop()
            }
        }
        let setup = try Setup(Self.twoProfiles(a, b))
        defer { setup.remove() }

        let alpha = try await setup.run("run", setup.folder + "/rules", "--once")
        #expect(alpha.status == 0, "\(alpha.stderr)")
        let beta = try await setup.run("--profile", "beta", "run", setup.folder + "/rules", "--once")
        #expect(beta.status == 0, "\(beta.stderr)")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: setup.folder + "/state/tsee/alpha/tsee.db"))
        #expect(fm.fileExists(atPath: setup.folder + "/state/tsee/beta/tsee.db"))
        #expect(!fm.fileExists(atPath: setup.folder + "/state/tsee/tsee.db"))

        let logA = try await setup.run("log", "--limit", "1000")
        let logB = try await setup.run("log", "--limit", "1000", environment: ["TSEE_PROFILE": "beta"])
        let tuidsA = Set((logA.json as? [[String: Any]] ?? []).compactMap { $0["tuid"] as? String })
        let tuidsB = Set((logB.json as? [[String: Any]] ?? []).compactMap { $0["tuid"] as? String })
        #expect(tuidsA == Set(a.server.deviceTUIDs()), "\(logA.stderr)")
        #expect(tuidsB == Set(b.server.deviceTUIDs()), "\(logB.stderr)")
    }

    @Test func precedenceIsFlagsThenEnvironmentThenProfile() async throws {
        let a = try await Fleet.start { $0.devices = 12 }
        let b = try await Fleet.start {
            $0.devices = 5; $0.seed = 9
        }
        defer {
            Task {
                await a.stop(); await b.stop()
            }
        }
        let setup = try Setup(Self.twoProfiles(a, b))
        defer { setup.remove() }
        func count(_ outcome: Outcome) -> Int { (outcome.json as? [Any])?.count ?? -1 }
        #expect(count(try await setup.run("things", "--columns", "tuid")) == 12, "default_profile")
        #expect(count(try await setup.run("things", "--columns", "tuid", environment: ["TSEE_PROFILE": "beta"])) == 5)
        let environment = ["THINGSEE_BASE_URL": b.url.absoluteString]
        #expect(count(try await setup.run("things", "--columns", "tuid", environment: environment)) == 5)
        #expect(
            count(
                try await setup.run(
                    "--base-url", a.url.absoluteString, "things", "--columns", "tuid",
                    environment: environment)) == 12)
        let unknown = try await setup.run("--profile", "gamma", "things")
        #expect(unknown.status == 2 && unknown.stderr.contains("no profile `gamma`"))
        #expect(unknown.stderr.contains("alpha, beta"))
    }

    @Test func profilesListsThemWithoutASecret() async throws {
        let a = try await Fleet.start()
        defer { Task { await a.stop() } }
        let setup = try Setup { folder in
            Self.twoProfiles(a, a)(folder)
                + "[profile.inline]\nbase_url = \"\(a.url.absoluteString)\"\nclient_secret = \"hunter2-inline\"\n"
        }
        defer { setup.remove() }
        let list = try await setup.run("profiles")
        #expect(list.status == 0, "\(list.stderr)")
        #expect(!list.stdout.contains("hunter2") && !list.stdout.contains("sim-secret"))
        let profiles = try #require((list.json as? [String: Any])?["profiles"] as? [[String: Any]])
        #expect(profiles.compactMap { $0["name"] as? String } == ["alpha", "beta", "inline"])
        #expect(profiles.first?["default"] as? Bool == true)
        let notify = (list.json as? [String: Any])?["notify"] as? [[String: Any]]
        #expect(notify?.first?["name"] as? String == "ops")
    }

    @Test func aReadableFileWithAnInlineSecretIsRefused() async throws {
        let setup = try Setup(
            { _ in "[profile.p]\nbase_url = \"http://127.0.0.1:9/v1\"\nclient_secret = \"hunter2\"\n" }, mode: 0o644)
        defer { setup.remove() }
        let outcome = try await setup.run("profiles")
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("refused") && outcome.stderr.contains("profile.p.client_secret"))
        #expect(outcome.stderr.contains("chmod 600"))
        #expect(!outcome.stderr.contains("hunter2"))
        chmod(setup.folder + "/cfg/tsee/config.toml", 0o600)
        #expect(try await setup.run("profiles").status == 0)
    }

    @Test func runNotifiesTheConfiguredTargetWithItsHeaderReadFromTheEnvironment() async throws {
        let fleet = try await Fleet.start()
        defer { Task { await fleet.stop() } }
        let hook = HookServer()
        let port = try await hook.start()
        defer { Task { await hook.stop() } }
        let setup = try Setup { folder in
            """
            [profile.alpha]
            base_url = "\(fleet.url.absoluteString)"
            client_id = "sim"
            client_secret_file = "\(folder)/secret"
            [notify.ops]
            url = "http://127.0.0.1:\(port)/hook"
            headers = { Authorization = "env:OPS_HOOK_TOKEN" }

            """
        }
        defer { setup.remove() }
        try "rule page: when battery above -1 then notify ops\n".write(
            toFile: setup.folder + "/rules/all.rules", atomically: true, encoding: .utf8)
        let run = try await setup.run(
            "run", setup.folder + "/rules", "--once", "--profile", "alpha", "--db", setup.folder + "/tsee.db",
            environment: ["OPS_HOOK_TOKEN": "Bearer hook-token-7"])
        #expect(run.status == 0, "\(run.stderr)")
        let deliveries = hook.deliveries.withLock { $0 }
        #expect(deliveries.count == 40, "one per device of the fleet")
        #expect(deliveries.allSatisfy { $0.authorization == "Bearer hook-token-7" && $0.key != nil })
        #expect(!run.stderr.contains("hook-token-7"))
    }

    @Test func aTypoInTheFileIsAnErrorWithASuggestion() async throws {
        let setup = try Setup { _ in "[profile.p]\nbase-url = \"http://127.0.0.1:9/v1\"\n" }
        defer { setup.remove() }
        let outcome = try await setup.run("profiles")
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("unknown key `base-url` in [profile.p]; did you mean `base_url`?"))
        // The help that explains the file still works, and says what is wrong with it.
        let help = try await setup.run("help", "profiles")
        #expect(help.status == 0 && help.stdout.contains("profile"), "\(help.stderr)")
        #expect(help.stderr.contains("did you mean `base_url`?") && help.stderr.contains("help is shown without it"))
        let script = try await setup.run("-c", "help")
        #expect(script.status == 0 && script.stdout.contains("messages"), "\(script.stderr)")
    }

    @Test func versionAndQuiet() async throws {
        let version = try await Tsee.run(["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("tsee ") && version.stdout.count < 40)
        let loud = try await Tsee.run(["things", "--columns", "tuid"])
        #expect(loud.stderr.contains("using the built-in simulator"))
        let quiet = try await Tsee.run(["things", "--columns", "tuid", "-q"])
        #expect(quiet.status == 0 && !quiet.stderr.contains("simulator"), "\(quiet.stderr)")
    }
}
