/// How the simulator serves: where it listens, the fleet it simulates, its clock and the faults it injects.
public struct SimulatorConfiguration: Sendable {
    /// An IPv4 (or IPv6) literal to listen on; loopback by default.
    public var host = "127.0.0.1"
    /// 0 lets the system choose a free port; `SimulatorServer.start()` returns the one it got.
    public var port: UInt16 = 0
    public var devices = 40
    public var seed: UInt64 = 1
    /// Seconds of real time a token stays valid.
    public var tokenTTL: Double = 900
    /// Simulated seconds per real second.
    public var timeScale: Double = 1
    /// Fraction of API requests answered 503 (never `/auth/client-token` nor `/_sim`).
    public var failRate: Double = 0
    /// If > 0, every Nth API request is answered 503 (deterministic).
    public var failEvery: Int = 0
    /// Fraction of successful `GET` API answers whose body is malformed: truncated JSON, values of the wrong
    /// types, or a body of several megabytes that is not what the endpoint returns. The status stays 200.
    public var malformedRate: Double = 0
    /// If > 0, every Nth successful `GET` API answer is malformed (deterministic; the kinds take turns).
    public var malformedEvery: Int = 0
    /// Milliseconds added before every response (not `/_sim`).
    public var latencyMs: Int = 0
    /// If > 0, at most this many requests per real second; the excess is answered 429 with `Retry-After: 1`.
    public var rateLimit: Int = 0
    /// Simulated seconds from a command to its `tsmEv` 31 echo.
    public var echoDelay: Double = 3
    public var clientID = "sim"
    public var clientSecret = "sim-secret"

    public init() {}
}
