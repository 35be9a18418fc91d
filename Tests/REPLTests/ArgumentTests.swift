import Testing
import ThingseeAPI

@testable import REPL

@Suite struct ArgumentTests {
    @Test func parsesTimes() {
        let now: Int64 = 1_800_000_000
        #expect(TimeExpression.parse("now", now: now) == now)
        #expect(TimeExpression.parse("-30m", now: now) == now - 1800)
        #expect(TimeExpression.parse("-1h", now: now) == now - 3600)
        #expect(TimeExpression.parse("-7d", now: now) == now - 7 * 86400)
        #expect(TimeExpression.parse("1559638241", now: now) == 1_559_638_241)
        #expect(TimeExpression.parse("2019-12-03T07:22:19Z", now: now) == 1_575_357_739)
        #expect(TimeExpression.parse("2019-12-03T09:22:19+02:00", now: now) == 1_575_357_739)
        #expect(TimeExpression.parse("yesterday", now: now) == nil)
        #expect(TimeExpression.parse("-1x", now: now) == nil)
        #expect(TimeExpression.parse("-", now: now) == nil)
    }

    @Test func parsesDurations() {
        #expect(TimeExpression.duration("90") == 90)
        #expect(TimeExpression.duration("5m") == 300)
        #expect(TimeExpression.duration("2h") == 7200)
        #expect(TimeExpression.duration("1d") == 86400)
        #expect(TimeExpression.duration("m") == nil)
        #expect(TimeExpression.duration("5y") == nil)
    }

    @Test func relativeTimeAfterAFlagIsAValueNotAFlag() throws {
        let specs = CommandDefinition.messages.allFlags
        let parsed = try ParsedArguments.parse(
            ["TSPD04ESY93100802", "--from", "-1h", "--to=-5m", "-n", "3"], specs: specs)
        #expect(parsed.positionals == ["TSPD04ESY93100802"])
        #expect(parsed.value("--from") == "-1h")
        #expect(parsed.value("--to") == "-5m")
        #expect(parsed.value("--limit") == "3")
    }

    @Test func unknownFlagsAndMissingValuesAreUsageErrors() {
        let specs = CommandDefinition.messages.allFlags
        #expect(throws: CommandError.self) { try ParsedArguments.parse(["X", "--frm", "-1h"], specs: specs) }
        #expect(throws: CommandError.self) { try ParsedArguments.parse(["X", "--limit"], specs: specs) }
    }

    @Test func optionalValueIsTakenOnlyWhenItFits() throws {
        let specs = CommandDefinition.send.allFlags
        let withValue = try ParsedArguments.parse(["T", "1500", "--wait", "2m", "reportInterval=60"], specs: specs)
        #expect(withValue.value("--wait") == "2m")
        #expect(withValue.positionals == ["T", "1500", "reportInterval=60"])
        let bare = try ParsedArguments.parse(["T", "1500", "--wait", "reportInterval=60"], specs: specs)
        #expect(bare.value("--wait") == "")
        #expect(bare.positionals == ["T", "1500", "reportInterval=60"])
    }

    @Test func watchLeavesTheInnerCommandAlone() throws {
        let parsed = try ParsedArguments.parse(
            ["-n", "5", "messages", "X", "-n", "2"], specs: CommandDefinition.watch.allFlags,
            stopAtFirstPositional: true)
        #expect(parsed.value("-n") == "5")
        #expect(parsed.positionals == ["messages", "X", "-n", "2"])
    }

    @Test func sendValidatesIdsAndParameterNames() throws {
        let (id, parameters) = try SendCommand.validate(["1500", "measurementInterval=60", "reportInterval=300"])
        #expect(id == 1500)
        #expect(parameters.map(\.name) == ["measurementInterval", "reportInterval"])
        #expect(throws: CommandError.self) { try SendCommand.validate(["1502", "x=1"]) }
        #expect(throws: CommandError.self) { try SendCommand.validate(["1500", "threshold=100"]) }
        #expect(throws: CommandError.self) { try SendCommand.validate(["1500", "reportInterval=fast"]) }
        #expect(throws: CommandError.self) { try SendCommand.validate(["12211", "hallMode=1"]) }
        #expect(throws: CommandError.self) { try SendCommand.validate(["12211", "hallMode=x"], unchecked: true) }
    }

    @Test func headerOnlyAndUncheckedCommands() throws {
        // No parameters: a header-only command, which asks the device for its current configuration.
        let (id, parameters) = try SendCommand.validate(["1500"])
        #expect(id == 1500 && parameters.isEmpty)
        let (other, values) = try SendCommand.validate(["17220", "orientation=1"], unchecked: true)
        #expect(other == 17220 && values.map(\.name) == ["orientation"] && values.map(\.value) == [1])
        #expect(throws: CommandError.self) { try SendCommand.validate(["-5"], unchecked: true) }
    }

    @Test func groupIdsThatCannotBeCreated() {
        #expect(throws: CommandError.self) { try CommandDefinition.newGroupID("two words") }
        #expect(throws: CommandError.self) { try CommandDefinition.newGroupID("unassigned") }
        #expect(throws: CommandError.self) { try CommandDefinition.newGroupID("") }
        #expect((try? CommandDefinition.newGroupID("prfi00coldchain")) == "prfi00coldchain")
    }

    @Test func registryResolvesSubcommandsAndSuggests() throws {
        let registry = CommandRegistry.standard()
        let (command, path, rest) = try registry.resolve(["group", "create", "a", "b"])
        #expect(command.name == "create")
        #expect(path == ["group", "create"])
        #expect(rest == ["a", "b"])
        #expect(
            throws: CommandError.usage("unknown command `grups` (did you mean `groups`?); type `help` for the list")
        ) {
            try registry.resolve(["grups"])
        }
    }

    @Test func registeringACommandMakesItPartOfHelpAndDispatch() throws {
        let registry = CommandRegistry.standard()
        registry.register(
            CommandDefinition(
                name: "rules", summary: "load and check rules",
                subcommands: [CommandDefinition(name: "list", summary: "list the rules") { _ in }]))
        #expect(HelpText.render([], registry: registry).contains("rules"))
        #expect(try registry.resolve(["rules", "list"]).1 == ["rules", "list"])
    }

    @Test func exitCodesFollowTheContract() {
        #expect(
            ExitStatus.of(ThingseeError.api(endpoint: "GET /x", status: 404, error: "Not Found", message: ""))
                == .refused)
        #expect(
            ExitStatus.of(ThingseeError.api(endpoint: "GET /x", status: 503, error: "", message: "")) == .unavailable)
        #expect(
            ExitStatus.of(ThingseeError.authentication(endpoint: "POST /auth", status: 401, message: ""))
                == .authentication)
        #expect(
            ExitStatus.of(ThingseeError.unreachable(endpoint: "GET /x", reason: "refused", attempts: 5)) == .unavailable
        )
        #expect(ExitStatus.of(CommandError.usage("x")) == .usage)
        #expect(ExitStatus.of(CommandError.unconfirmed("x")) == .unconfirmed)
    }

    @Test func historyNeverRecordsSecrets() {
        #expect(History.mayRecord("thing TSPD04ESY93100802"))
        #expect(!History.mayRecord("set CLIENT_SECRET abc"))
        #expect(!History.mayRecord("set api_token abc"))
        #expect(!History.mayRecord("set MyPassword hunter2"))
        #expect(History.defaultPath(environment: ["XDG_STATE_HOME": "/s", "HOME": "/h"]) == "/s/tsee/history")
        #expect(History.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/state/tsee/history")
    }
}
