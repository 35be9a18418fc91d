// libFuzzer harness for the rule-file parser: any text must parse to rules and diagnostics, never crash.
// Built by scripts/fuzz together with the sources of Sources/Rules.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRuleParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (ruleSet, diagnostics) = RuleSet.parse(file: "fuzz.rules", text: text)
    // Touch the results so that nothing is optimised away, and check what every caller relies on.
    for diagnostic in diagnostics {
        _ = diagnostic.description
    }
    if !diagnostics.hasErrors {
        _ = Engine(ruleSet).initialStates()
    }
    return 0
}
