/// How the simulator serves: where it listens, the fleet it simulates, its clock and the faults it injects.
///
/// Every fault and real-API variant is off by default.
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

    // MARK: Real-API variants

    /// If > 0, a messages page holds at most this many items whatever `limit` asks for.
    public var pageCap: Int = 0
    /// Fraction of messages followed, in their page, by an item a client cannot use: a row without `tsmTuid`,
    /// an outgoing command row (`tsmDstTuid` only) or a network-down event (`tsmEv` 18) without `tsmTs`.
    /// Which messages get one is fixed by the seed, so the same read returns the same page.
    public var badItemRate: Double = 0
    /// Fraction of successful writes (commands, installations, groups) that are applied and then answered
    /// 504 or not answered at all (the connection is closed), the two taking turns.
    public var ambiguousWriteRate: Double = 0
    /// Successful writes answer, in turn, 204, an empty 200 and `{"data": "OK"}` instead of their body.
    public var emptyWriteBodies = false
    /// False: `GET /things/alerts` and `GET /things/alerts/count` are answered as API Gateway answers a route it
    /// does not have (403 "Missing Authentication Token"), as on a deployment without the fleet-wide alert calls.
    public var fleetAlertCalls = true
    /// Every API answer but the token's is trickled: one byte every `slowBodyByteIntervalMs`.
    public var slowBody = false
    public var slowBodyByteIntervalMs: Int = 1_000
    /// For tests of a client's limits: every successful `GET` API answer is a JSON body that never ends.
    public var endlessBody = false
    /// For tests of a client's limits: every successful `GET` API answer is a gzip stream (`Content-Encoding:
    /// gzip`) of `gzipBombBytes` bytes once decompressed, about 160 times smaller on the wire.
    public var gzipBomb = false
    public var gzipBombBytes: Int = 1 << 30

    public init() {}
}
