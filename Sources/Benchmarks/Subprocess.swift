import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Child processes with their wall time and resource usage (`wait4`), output captured in files.
struct Subprocess {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var wallSeconds: Double
        /// User + system CPU seconds of the child.
        var cpuSeconds: Double
        /// Peak resident set size of the child, in bytes: its `VmHWM` sampled every 5 ms when asked for,
        /// else 0. (`wait4`'s `ru_maxrss` is no use here: a child spawned with vfork semantics keeps the
        /// benchmark's own high-water mark across `execve`.)
        var maxRSS: Int
    }

    enum Failure: Error, CustomStringConvertible {
        case spawn(String, Int32)
        case timeout(String)

        var description: String {
            switch self {
            case .spawn(let what, let code): "cannot start \(what): \(String(cString: strerror(code)))"
            case .timeout(let what): "\(what) did not answer in time"
            }
        }
    }

    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    let started: ContinuousClock.Instant
    let name: String

    /// Environment of the benchmark process with `changes` applied (nil removes a variable).
    static func environment(_ changes: [String: String?]) -> [String] {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in changes { env[key] = value }
        return env.map { "\($0.key)=\($0.value)" }
    }

    /// Starts `arguments` with stdin from `stdinFile` (else /dev/null), stdout and stderr to temporary files.
    static func start(
        _ arguments: [String], environment: [String: String?] = [:], stdinFile: String? = nil,
        directory: String = NSTemporaryDirectory()
    ) throws -> Subprocess {
        let id = UUID().uuidString.prefix(8)
        let out = directory + "/bench-\(id).out"
        let err = directory + "/bench-\(id).err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        return try spawn(arguments, environment: environment, actions: &actions, attributes: nil, out: out, err: err)
    }

    /// Starts `arguments` with stdout to a temporary file and stderr to a pipe that a thread of its own reads:
    /// `line` gets each line of stderr as soon as it is written, so the caller can time what the child reports.
    static func start(
        _ arguments: [String], environment: [String: String?] = [:], directory: String = NSTemporaryDirectory(),
        stderrLines line: @escaping @Sendable (String) -> Void
    ) throws -> Subprocess {
        let id = UUID().uuidString.prefix(8)
        let out = directory + "/bench-\(id).out"
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Failure.spawn("a pipe", errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let child: Subprocess
        do {
            child = try spawn(
                arguments, environment: environment, actions: &actions, attributes: nil, out: out,
                err: directory + "/bench-\(id).err-unused")
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        let reader = fds[0]
        let thread = Thread {
            var pending: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = read(reader, &buffer, buffer.count)
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                pending += buffer[0..<n]
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    line(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
            }
            close(reader)
        }
        thread.start()
        return child
    }

    private static func spawn(
        _ arguments: [String], environment: [String: String?], actions: inout posix_spawn_file_actions_t,
        attributes: UnsafePointer<posix_spawnattr_t>?, out: String, err: String
    ) throws -> Subprocess {
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = Self.environment(environment).map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let started = ContinuousClock.now
        let rc = posix_spawn(&pid, arguments[0], &actions, attributes, argv, envp)
        guard rc == 0 else { throw Failure.spawn(arguments[0], rc) }
        return Subprocess(pid: pid, stdoutPath: out, stderrPath: err, started: started, name: arguments[0])
    }

    /// Runs to completion.
    static func run(
        _ arguments: [String], environment: [String: String?] = [:], stdinFile: String? = nil,
        sampleMemory: Bool = false
    ) throws -> Outcome {
        try start(arguments, environment: environment, stdinFile: stdinFile).wait(sampleMemory: sampleMemory)
    }

    /// Waits for the child; returns its status, output, wall time and resource usage, and removes the output files.
    func wait(sampleMemory: Bool = false) -> Outcome {
        var status: Int32 = 0
        var usage = rusage()
        var peak = 0
        if sampleMemory {
            // Polling delays noticing the exit by up to 5 ms: use it only where that does not matter.
            while true {
                let done = wait4(pid, &status, WNOHANG, &usage)
                if done == pid || (done < 0 && errno != EINTR) { break }
                if let hwm = peakRSS() { peak = max(peak, hwm) }
                usleep(5_000)
            }
        } else {
            while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        }
        let wall = elapsedSeconds(since: started)
        let cpu = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        let outcome = Outcome(
            status: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            stdout: currentStdout(), stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "",
            wallSeconds: wall, cpuSeconds: cpu, maxRSS: peak)
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
        return outcome
    }

    func currentStdout() -> String {
        (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
    }

    /// Polls stdout until `matching` finds something in it.
    func waitForOutput<T>(timeout: Double, _ matching: (String) -> T?) throws -> T {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while ContinuousClock.now < deadline {
            if let found = matching(currentStdout()) { return found }
            usleep(5_000)
        }
        throw Failure.timeout(name)
    }

    /// User + system CPU seconds a running child has used so far, from `/proc/PID/stat`.
    func cpuSecondsSoFar() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// `VmHWM` (peak resident set) of a running child, in bytes, from /proc.
    func peakRSS() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            return digits.first.map { $0 * 1024 }
        }
        return nil
    }

    func signal(_ number: Int32) {
        kill(pid, number)
    }
}

/// Time from spawning `arguments` on a new pseudo-terminal until `prompt` appears on it.
func timeToPrompt(_ arguments: [String], environment: [String: String?], prompt: String, timeout: Double) throws
    -> Double
{
    // posix_openpt and friends are not visible to Swift here: the same through /dev/ptmx and its ioctls.
    let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
    var unlock: CInt = 0
    var number: CUnsignedInt = 0
    let unlockRequest: UInt = 0x4004_5431  // TIOCSPTLCK
    let numberRequest: UInt = 0x8004_5430  // TIOCGPTN
    guard master >= 0, ioctl(master, unlockRequest, &unlock) == 0, ioctl(master, numberRequest, &number) == 0 else {
        throw Subprocess.Failure.spawn("a pseudo-terminal", errno)
    }
    defer { close(master) }
    let slave = "/dev/pts/\(number)"
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, slave, O_RDWR, 0)
    posix_spawn_file_actions_adddup2(&actions, 0, 1)
    posix_spawn_file_actions_adddup2(&actions, 0, 2)
    posix_spawn_file_actions_addclose(&actions, master)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    let newSession: Int16 = 0x80  // POSIX_SPAWN_SETSID (glibc)
    posix_spawnattr_setflags(&attributes, newSession)

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = Subprocess.environment(environment).map { strdup($0) } + [nil]
    defer {
        for p in argv { free(p) }
        for p in envp { free(p) }
    }
    var pid: pid_t = 0
    let started = ContinuousClock.now
    let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard rc == 0 else { throw Subprocess.Failure.spawn(arguments[0], rc) }
    defer {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
    var seen: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    let needle = Array(prompt.utf8)
    while elapsedSeconds(since: started) < timeout {
        var descriptor = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 50) > 0 else { continue }
        let n = read(master, &buffer, buffer.count)
        if n <= 0 { break }
        seen += buffer[0..<n]
        if seen.count >= needle.count {
            for start in 0...(seen.count - needle.count) where seen[start..<(start + needle.count)].elementsEqual(needle) {
                return elapsedSeconds(since: started)
            }
        }
    }
    throw Subprocess.Failure.timeout("\(arguments[0]) prompt (saw: \(String(decoding: seen.suffix(200), as: UTF8.self)))")
}
