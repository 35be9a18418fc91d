import Foundation
import Testing

@testable import Rules

/// Every rule file and fixture in the repository's `rules/` must stay valid and green.
@Suite struct ExampleRulesTests {
    static let rulesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("rules")

    static func files(ending suffix: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: rulesDirectory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasSuffix(suffix) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test func everyRuleFileParsesWithoutProblems() throws {
        let files = try Self.files(ending: ".rules")
        #expect(files.count >= 5)
        let sources = try files.map { (file: $0.lastPathComponent, text: try String(contentsOf: $0, encoding: .utf8)) }
        let (ruleSet, diagnostics) = RuleSet.parse(sources: sources)
        #expect(diagnostics.isEmpty, "\(diagnostics.map(\.description).joined(separator: "\n"))")
        #expect(ruleSet.rules.count >= files.count)
    }

    @Test func everyFixturePasses() throws {
        let fixtures = try Self.files(ending: ".test")
        #expect(fixtures.count >= 5)
        for fixture in fixtures {
            let result = RuleTestRunner.run(
                fixture: fixture.path, text: try String(contentsOf: fixture, encoding: .utf8),
                load: { try String(contentsOfFile: $0, encoding: .utf8) })
            #expect(result.passed, "\(result)")
            #expect(result.evaluations > 0)
        }
    }
}
