import ThingseeAPI

/// The exit codes of `tsee`, documented in `help exit-codes`; scripts depend on them.
public struct ExitStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = ExitStatus(rawValue: 0)
    /// The API refused the request (4xx).
    public static let refused = ExitStatus(rawValue: 1)
    /// Invalid command or arguments; nothing was sent.
    public static let usage = ExitStatus(rawValue: 2)
    /// Authentication failed.
    public static let authentication = ExitStatus(rawValue: 3)
    /// The API was unreachable, or answered 5xx after retries.
    public static let unavailable = ExitStatus(rawValue: 4)
    /// Some devices of a batch operation failed.
    public static let partialFailure = ExitStatus(rawValue: 5)
    /// A command was accepted but its echo did not arrive within `--wait`.
    public static let unconfirmed = ExitStatus(rawValue: 6)
    /// Interrupted by Ctrl-C (as a shell reports SIGINT).
    public static let interrupted = ExitStatus(rawValue: 130)

    public var description: String { String(rawValue) }

    /// The page `help exit-codes` prints.
    public static let documentation = """
        Exit codes of tsee (for scripts: `tsee -c …; echo $?`):
          0  ok
          1  the API refused the request (an HTTP 4xx answer, e.g. 404 unknown device, 409 group exists)
          2  invalid command or arguments; nothing was sent
          3  authentication failed (check THINGSEE_CLIENT_ID and the client secret)
          4  the API was unreachable, or answered 5xx (or sent an unusable answer) after retries
          5  some devices of a batch operation failed
          6  a command was accepted but the device's echo did not arrive within --wait
        130  interrupted (Ctrl-C)
        With --on-error continue, a script exits with the first non-zero code of its commands.
        """

    /// The exit status for an error thrown by a command.
    public static func of(_ error: any Error) -> ExitStatus {
        switch error {
        case let e as CommandError: e.status
        case let e as ThingseeError:
            switch e {
            case .api(_, let status, _, _): (400..<500).contains(status) ? .refused : .unavailable
            case .authentication: .authentication
            case .unreachable, .decoding, .outcomeUnknown: .unavailable
            case .configuration: .usage
            case .cancelled: .interrupted
            }
        case is CancellationError: .interrupted
        // A database that cannot be read or written is a local problem to fix (path, permissions, disk), not the
        // API being unreachable.
        case is LocalFailure: .usage
        default: .unavailable
        }
    }
}

/// A failure of something on this machine (the database: its path, permissions, disk), which exits 2 like a bad
/// argument rather than 4 like an unreachable API. Conformances live beside the types (`StoreError`).
public protocol LocalFailure: Error {}

/// A failure found by tsee itself rather than by the API.
public enum CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Invalid command or arguments; nothing was sent (exit 2).
    case usage(String)
    /// Some devices of a batch failed (exit 5).
    case partialFailure(String)
    /// Accepted, but no echo in time (exit 6).
    case unconfirmed(String)
    /// Any other failure with an explicit status.
    case failed(String, ExitStatus)
    /// The `exit` command: stop with this status.
    case exit(ExitStatus)

    public var status: ExitStatus {
        switch self {
        case .usage: .usage
        case .partialFailure: .partialFailure
        case .unconfirmed: .unconfirmed
        case .failed(_, let s): s
        case .exit(let s): s
        }
    }

    public var description: String {
        switch self {
        case .usage(let m), .partialFailure(let m), .unconfirmed(let m), .failed(let m, _): m
        case .exit(let s): "exit \(s)"
        }
    }
}
