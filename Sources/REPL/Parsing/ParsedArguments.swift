/// A command's words sorted into positionals and flags, checked against its `FlagSpec`s.
public struct ParsedArguments: Sendable, Equatable {
    public var positionals: [String] = []
    /// Flag values by canonical name, in order; a flag without a value maps to `[""]` per occurrence.
    public var flags: [String: [String]] = [:]

    public init(positionals: [String] = [], flags: [String: [String]] = [:]) {
        self.positionals = positionals
        self.flags = flags
    }

    public func has(_ name: String) -> Bool { flags[name] != nil }

    /// The last value given for a flag.
    public func value(_ name: String) -> String? { flags[name]?.last }

    /// Parses `words` against `specs`.
    ///
    /// A flag that takes a value always takes the next word, even when it starts with `-` (`--from -1h`).
    /// An unknown word starting with `-` is an error unless it reads as a negative number or a relative time.
    /// With `stopAtFirstPositional`, everything from the first positional on is left as positionals (`watch`).
    public static func parse(
        _ words: [String], specs: [FlagSpec], stopAtFirstPositional: Bool = false
    ) throws(CommandError) -> ParsedArguments {
        var result = ParsedArguments()
        var i = 0
        func spec(_ name: String) -> FlagSpec? { specs.first { $0.names.contains(name) } }
        while i < words.count {
            let word = words[i]
            i += 1
            if word == "--" {
                result.positionals += words[i...]
                break
            }
            guard word.hasPrefix("-"), word.count > 1, !TimeExpression.looksLikeValue(word) else {
                result.positionals.append(word)
                if stopAtFirstPositional {
                    result.positionals += words[i...]
                    break
                }
                continue
            }
            var name = word
            var inline: String?
            if word.hasPrefix("--"), let eq = word.firstIndex(of: "=") {
                name = String(word[..<eq])
                inline = String(word[word.index(after: eq)...])
            }
            guard let flag = spec(name) else {
                let known = specs.map(\.name).joined(separator: ", ")
                throw .usage("unknown flag \(name) (this command takes \(known))")
            }
            var value = ""
            if flag.valueName != nil {
                if let inline {
                    value = inline
                } else if flag.valueIsOptional {
                    if i < words.count, flag.kind != .duration || TimeExpression.duration(words[i]) != nil {
                        value = words[i]
                        i += 1
                    }
                } else {
                    guard i < words.count else { throw .usage("\(flag.name) needs a value (\(flag.usage))") }
                    value = words[i]
                    i += 1
                }
            } else if inline != nil {
                throw .usage("\(flag.name) takes no value")
            }
            result.flags[flag.name, default: []].append(value)
        }
        return result
    }
}
