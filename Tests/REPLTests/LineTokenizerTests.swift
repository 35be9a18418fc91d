import Testing

@testable import REPL

@Suite struct LineTokenizerTests {
    @Test func splitsCommandsAtSemicolonsOutsideQuotes() throws {
        #expect(try LineTokenizer.split("groups; thing X ;; ") == ["groups", "thing X"])
        #expect(try LineTokenizer.split("group create a \"x; y\"; groups") == ["group create a \"x; y\"", "groups"])
        #expect(try LineTokenizer.split("set a 'b;c'") == ["set a 'b;c'"])
    }

    @Test func dropsCommentsButNotHashesInsideWords() throws {
        #expect(try LineTokenizer.split("# only a comment").isEmpty)
        #expect(try LineTokenizer.split("groups # list them; thing X") == ["groups"])
        #expect(try LineTokenizer.split("set tag a#b") == ["set tag a#b"])
        #expect(try LineTokenizer.split("set tag '# not a comment'") == ["set tag '# not a comment'"])
    }

    @Test func quotesGroupWordsLikeAShell() throws {
        #expect(
            try LineTokenizer.words("group create prfi00coldchain \"Cold storage rooms\"")
                == ["group", "create", "prfi00coldchain", "Cold storage rooms"])
        #expect(try LineTokenizer.words("group create 'two words'") == ["group", "create", "two words"])
        #expect(try LineTokenizer.words(#"a\ b "c\"d" 'e\f' """#) == ["a b", "c\"d", "e\\f", ""])
        #expect(try LineTokenizer.words("x'y'\"z\"") == ["xyz"])
    }

    @Test func unterminatedQuoteIsAUsageError() {
        #expect(throws: CommandError.self) { try LineTokenizer.words("group create \"open") }
        #expect(throws: CommandError.self) { try LineTokenizer.split("set a 'b") }
    }

    @Test func expandsVariablesExceptInSingleQuotes() throws {
        let vars = ["dev": "TSPD04ESY93100802", "n": "5"]
        let lookup: (String) -> String? = { vars[$0] }
        #expect(try LineTokenizer.words("thing $dev", variable: lookup) == ["thing", "TSPD04ESY93100802"])
        #expect(
            try LineTokenizer.words("messages ${dev} --limit=$n", variable: lookup)
                == ["messages", "TSPD04ESY93100802", "--limit=5"])
        #expect(try LineTokenizer.words("set x \"v=$n\" '$n'", variable: lookup) == ["set", "x", "v=5", "$n"])
        #expect(try LineTokenizer.words("echo $ 5$", variable: lookup) == ["echo", "$", "5$"])
        #expect(throws: CommandError.usage("undefined variable $nope (set it first with `set nope VALUE`)")) {
            try LineTokenizer.words("thing $nope", variable: lookup)
        }
    }

    @Test func quoteRoundTrips() throws {
        for word in ["plain", "two words", "it's", "$x", ""] {
            #expect(try LineTokenizer.words(LineTokenizer.quote(word)) == [word])
        }
    }
}
