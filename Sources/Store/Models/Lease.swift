/// What one `tsee run` process asks for at the start of a cycle: to renew its leases and hold its share of `devices`.
public struct LeaseRequest: Sendable, Equatable {
    /// Unique per process (host, pid and a random part): two processes never share an owner.
    public var owner: String
    /// Every device in the rules' scope, as this process sees the fleet.
    public var devices: [String]
    /// How long a lease lasts unless renewed (`--lease`).
    public var leaseSeconds: Int64
    /// For `tsee status`.
    public var host: String
    public var pid: Int

    public init(owner: String, devices: [String], leaseSeconds: Int64, host: String, pid: Int) {
        self.owner = owner
        self.devices = devices
        self.leaseSeconds = leaseSeconds
        self.host = host
        self.pid = pid
    }
}

/// What the process holds after ``Store/holdLeases(_:)``: the devices it alone evaluates until `expiresAt`.
public struct LeaseGrant: Sendable, Equatable {
    /// Held now, sorted: renewed or newly acquired.
    public var held: [String]
    /// Held now and not before this call (taken free, or over from an owner whose lease expired).
    public var acquired: [String]
    /// Given up by this call so that other processes get their share.
    public var released: [String]
    /// Processes whose heartbeat is within their lease length, this one included.
    public var liveOwners: Int
    /// The most this process holds: ceil(devices / live owners).
    public var share: Int
    /// The leases' expiry, on the lease clock (Unix seconds).
    public var expiresAt: Int64

    public init(
        held: [String], acquired: [String], released: [String], liveOwners: Int, share: Int, expiresAt: Int64
    ) {
        self.held = held
        self.acquired = acquired
        self.released = released
        self.liveOwners = liveOwners
        self.share = share
        self.expiresAt = expiresAt
    }
}

/// One `tsee run` process as its heartbeat row shows it (`tsee status`).
public struct ProcessRecord: Sendable, Equatable {
    public var owner: String
    public var host: String
    public var pid: Int
    public var startedAt: Int64
    public var heartbeatAt: Int64
    public var leaseSeconds: Int64
    /// Devices whose lease this owner holds and that have not expired.
    public var devices: Int
    /// Whether the heartbeat is within the lease length at `now`.
    public var live: Bool

    public init(
        owner: String, host: String, pid: Int, startedAt: Int64, heartbeatAt: Int64, leaseSeconds: Int64,
        devices: Int, live: Bool
    ) {
        self.owner = owner
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.leaseSeconds = leaseSeconds
        self.devices = devices
        self.live = live
    }
}

/// The heartbeat rows, and the lease clock's now that `live` was judged at.
public struct ProcessList: Sendable, Equatable {
    public var now: Int64
    public var processes: [ProcessRecord]

    public init(now: Int64, processes: [ProcessRecord]) {
        self.now = now
        self.processes = processes
    }
}
