// libFuzzer harness for the rule-file parser: any text must parse to rules and diagnostics, never crash.
// Built by scripts/fuzz together with the sources of Sources/Rules and Sources/ThingseeKit.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRuleParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let (ruleSet, diagnostics) = RuleSet.parse(file: "fuzz.rules", text: text)
    // Touch the results so that nothing is optimised away, and check what every caller relies on.
    for diagnostic in diagnostics {
        _ = diagnostic.description
    }
    if !diagnostics.hasErrors {
        // Evaluate what parsed, with hostile clocks and values: evaluation must not trap either.
        let engine = Engine(ruleSet)
        var states = engine.initialStates()
        var observations = DeviceObservations(alerts: [AlertEpisode(type: "gateway connection lost", from: 0)])
        let messages = [
            Message(tsmId: 12100, tsmTs: 0, tsmTuid: "TSPD04ESY93100802", values: ["temp": 9, "batl": 50]),
            Message(tsmId: 12100, tsmTs: Int64.max, tsmTuid: "TSPD04ESY93100802", values: ["temp": -1e308]),
            Message(tsmId: 1110, tsmTs: Int64.min, tsmTuid: "TSPD04ESY93100802", values: ["batl": .infinity]),
        ]
        for now in [0, 3600, Int64.max, Int64.min] {
            _ = engine.evaluate(
                tuid: "TSPD04ESY93100802", observations: &observations, newMessages: messages, states: &states,
                now: now)
        }
    }
    return 0
}
