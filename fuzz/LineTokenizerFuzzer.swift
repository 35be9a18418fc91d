// libFuzzer harness for the REPL's line parser: any line must split into commands and words or fail with a
// CommandError, never crash. Built by scripts/fuzz together with LineTokenizer.swift and ExitStatus.swift.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLineTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let commands = try? LineTokenizer.split(line) else { return 0 }
    for command in commands {
        _ = try? LineTokenizer.words(command) { name in name.count % 2 == 0 ? "v \(name) 'q'" : nil }
    }
    return 0
}
