import CSQLite3

/// One `tsee run` per SQLite file (``RunLock``), so that process holds every device: no lease rows are written,
/// only the heartbeat that `tsee status` shows. The lease clock is the store's `now`.
extension SQLiteStore {
    public func holdLeases(_ request: LeaseRequest) throws -> LeaseGrant {
        let now = now()
        let devices = Array(Set(request.devices)).sorted()
        try database.transaction {
            try database.run(
                """
                INSERT INTO processes (owner, host, pid, started_at, heartbeat_at, lease_seconds, devices)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
                    lease_seconds = excluded.lease_seconds, devices = excluded.devices
                """,
                [
                    .text(request.owner), .text(request.host), .integer(Int64(request.pid)), .integer(now),
                    .integer(now), .integer(request.leaseSeconds), .integer(Int64(devices.count)),
                ])
        }
        return LeaseGrant(
            held: devices, acquired: [], released: [], liveOwners: 1, share: devices.count,
            expiresAt: now + request.leaseSeconds)
    }

    public func releaseLeases(owner: String) throws {
        try database.run("DELETE FROM processes WHERE owner = ?", [.text(owner)])
    }

    public func processes() throws -> ProcessList {
        let now = now()
        let list = try database.query(
            """
            SELECT owner, host, pid, started_at, heartbeat_at, lease_seconds, devices FROM processes
            ORDER BY heartbeat_at DESC, owner
            """
        ) { row in
            ProcessRecord(
                owner: row.string(at: 0), host: row.string(at: 1), pid: row.int(at: 2), startedAt: row.int64(at: 3),
                heartbeatAt: row.int64(at: 4), leaseSeconds: row.int64(at: 5), devices: row.int(at: 6),
                live: row.int64(at: 4) + row.int64(at: 5) > now)
        }
        return ProcessList(now: now, processes: list)
    }
}
