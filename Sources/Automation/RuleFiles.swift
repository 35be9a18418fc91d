import Foundation
import Rules

/// Reads rule files and rule test fixtures from disk (the rules engine itself does no I/O).
public enum RuleFiles {
    /// A problem reading the paths themselves (not a rule-file diagnostic).
    public struct ReadError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The files a list of paths names: a file as it is; a directory's files ending in `ext`, sorted.
    public static func expand(_ paths: [String], ext: String) throws -> [String] {
        var files: [String] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ReadError(description: "\(path): no such file or directory")
            }
            if isDirectory.boolValue {
                let names = try fm.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(ext) }.sorted()
                files += names.map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        return files
    }

    /// Parses and compiles every `.rules` file the paths name.
    public static func load(_ paths: [String]) throws -> (RuleSet, [Diagnostic], files: [String]) {
        let files = try expand(paths, ext: ".rules")
        guard !files.isEmpty else {
            throw ReadError(description: "no .rules files in \(paths.joined(separator: ", "))")
        }
        let sources = try files.map { (file: $0, text: try read($0)) }
        let (ruleSet, diagnostics) = RuleSet.parse(sources: sources)
        return (ruleSet, diagnostics, files)
    }

    /// Runs every rule test fixture (`.test`) the paths name.
    public static func test(_ paths: [String]) throws -> [RuleTestResult] {
        let files = try expand(paths, ext: ".test")
        guard !files.isEmpty else {
            throw ReadError(description: "no .test files in \(paths.joined(separator: ", "))")
        }
        // The runner resolves the rule files a fixture names relative to the fixture itself.
        return try files.map { file in RuleTestRunner.run(fixture: file, text: try read(file), load: read) }
    }

    static func read(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(description: "\(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ReadError(description: "\(path): not UTF-8 text")
        }
        return text
    }
}
