import Profiles
import Foundation
import Testing

@Suite struct ConfigurationTests {
    let text = """
        default_profile = "prod"
        [profile.prod]
        base_url = "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1"
        client_id = "ops-tool"
        client_secret_file = "~/.config/tsee/prod.secret"
        rules = "/etc/tsee/rules"
        timezone = "Europe/Helsinki"
        mqtt = "mqtts://a1b2c3-ats.iot.eu-west-1.amazonaws.com:8883"
        mqtt_cert = "~/.config/tsee/prod.pem"
        mqtt_key = "~/.config/tsee/prod.key"
        db = "postgres://tsee@db.internal/tsee"
        [profile.dev]
        client_secret_command = "pass show thingsee/dev"
        [notify.ops]
        url = "https://hooks.example.com/services/T000/B000"
        headers = { Authorization = "env:OPS_HOOK_TOKEN" }

        """

    @Test func readsTheDesignsExample() throws {
        let file = try ConfigurationFile.parse(text, path: "c.toml")
        #expect(file.defaultProfile == "prod" && file.profileNames == ["dev", "prod"])
        let prod = try #require(file.profiles["prod"])
        #expect(
            prod.clientID == "ops-tool" && prod.timezone == "Europe/Helsinki"
                && prod.mqttKey == "~/.config/tsee/prod.key")
        #expect(prod.secretSource == "file ~/.config/tsee/prod.secret")
        #expect(file.profiles["dev"]?.secretSource == "command")
        #expect(file.inlineSecrets.isEmpty)
        let ops = try #require(file.notify["ops"])
        #expect(ops.url.hasPrefix("https://hooks.example.com"))
        #expect(try ops.resolvedHeaders(environment: ["OPS_HOOK_TOKEN": "t0k"]) == ["Authorization": "t0k"])
        #expect(throws: ConfigurationError.self) { try ops.resolvedHeaders(environment: [:]) }
    }

    @Test func selectsFlagThenEnvironmentThenDefault() throws {
        let file = try ConfigurationFile.parse(text, path: "c.toml")
        #expect(try file.selectedProfile(flag: "dev", environment: ["TSEE_PROFILE": "prod"])?.name == "dev")
        #expect(try file.selectedProfile(flag: nil, environment: ["TSEE_PROFILE": "dev"])?.name == "dev")
        #expect(try file.selectedProfile(flag: nil, environment: [:])?.name == "prod")
        #expect(throws: ConfigurationError.self) { try file.selectedProfile(flag: "prd", environment: [:]) }
    }

    @Test func secretsComeFromAFileOrACommand() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tsee-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        _ = FileManager.default.createFile(atPath: folder + "/s", contents: Data("  s3cret \n".utf8))
        let file = try ConfigurationFile.parse(
            "[profile.f]\nclient_secret_file = \"~/s\"\n[profile.c]\nclient_secret_command = \"printf cmd-secret\"\n"
                + "[profile.bad]\nclient_secret_command = \"exit 3\"\n", path: "c.toml")
        #expect(try file.profiles["f"]?.clientSecret(environment: ["HOME": folder]) == "s3cret")
        #expect(try file.profiles["c"]?.clientSecret() == "cmd-secret")
        #expect(throws: ConfigurationError.self) { try file.profiles["bad"]?.clientSecret() }
    }

    @Test func refusesWhatWouldGoWrongQuietly() {
        for bad in [
            "[profile.p]\nbase-url = \"x\"\n", "default_profile = \"nope\"\n[profile.p]\n", "[profile.sim]\n",
            "[profile.p]\nclient_secret = \"a\"\nclient_secret_file = \"b\"\n", "[profile.p]\nbase_url = 5\n",
            "[notify.x]\nheaders = { A = \"b\" }\n", "not toml at all = = =\n", "[profile.\"../x\"]\n",
        ] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ConfigurationFile.parse(bad, path: "c.toml") }
        }
    }

    @Test func inlineSecretsAreFound() throws {
        let file = try ConfigurationFile.parse(
            "[profile.p]\nclient_secret = \"a\"\n[notify.n]\nurl = \"https://x\"\nheaders = { Authorization = \"Bearer b\", X-Env = \"plain\" }\n",
            path: "c.toml")
        #expect(file.inlineSecrets == ["profile.p.client_secret", "notify.n.headers.Authorization"])
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        do {
            _ = try ConfigurationFile.parse("a = 1\nb = = 2\n", path: "c.toml")
            Issue.record("no error")
        } catch {
            #expect(error.line == 2 && error.description.hasPrefix("c.toml:2:"))
        }
    }
}
