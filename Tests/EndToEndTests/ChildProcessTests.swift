import Foundation
import TestSupport
import Testing

/// The servers the tests start (mosquitto, PostgreSQL) must not inherit the test process's descriptors. Foundation's
/// `Process` learns that a `tsee` child ended when the child's end of a socket pair closes; a server started in
/// the moment between that pair's creation and Foundation's closing of its copy kept the end open for its whole
/// life, the `tsee` child was never reaped, and its test hung.
@Suite struct ChildProcessTests {
    @Test func aServerStartedByTheTestsInheritsOnlyItsStandardDescriptors() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { for fd in ends { close(fd) } }
        let pid = try spawn("/bin/sleep", ["30"])
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        }
        // The child's descriptors once it runs `sleep` (before exec they are still the spawner's copy).
        var open: [Int32] = []
        for _ in 0..<500 {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe")) ?? ""
            if executable.hasSuffix("sleep") {
                open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [])
                    .compactMap { Int32($0) }.sorted()
                break
            }
            usleep(2_000)
        }
        #expect(open == [0, 1, 2])
    }

    /// A wait with a limit ends at the limit while the child runs, and the child's status is still reported
    /// once it ends: how a hung `tsee` becomes a named failure (`Tsee.runLimit`) instead of a stuck test.
    @Test func aBoundedWaitEndsAtItsLimitAndTheExitIsStillReported() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        let exited = ProcessExit(process)
        try process.run()
        #expect(await exited.status(within: .milliseconds(100)) == nil)
        kill(process.processIdentifier, SIGKILL)
        #expect(await exited.status(within: .seconds(30)) == SIGKILL)
        #expect(await exited.status() == SIGKILL)
    }
}
