import Foundation
import PostgresNIO

/// Device leases: several `tsee run` processes on one database split the fleet, Airflow-style, through row locks
/// (`FOR UPDATE SKIP LOCKED`) rather than a consensus protocol of their own.
///
/// Each cycle a process, in one transaction: writes its heartbeat; counts the live processes (heartbeat within
/// their lease length); renews its leases; gives back any beyond its share, ceil(devices / live processes), so that
/// a newcomer gets its share within a cycle or two; and claims free or expired leases up to its share, skipping rows
/// another claimer has locked. An expired lease is one whose owner did not renew it for a lease length: killed,
/// stopped, or cut off from the database.
///
/// Once a store has held leases for an owner it is *fenced*: ``recordIntents(_:ruleStates:devices:)`` refuses, in
/// the same transaction, intents for a device whose lease that owner no longer holds (locking the lease row so a
/// takeover waits for the write, or the write sees the takeover), and state saves drop such devices' rows.
extension PostgresStore {
    public func holdLeases(_ request: LeaseRequest) async throws -> LeaseGrant {
        let devices = Array(Set(request.devices)).sorted()
        let owner = request.owner
        let seconds = request.leaseSeconds
        fencingOwner.withLock { $0 = owner }
        return try await transaction("hold device leases") { connection in
            let now = try await leaseNow(on: connection)
            let expiry = now + seconds
            try await run(
                """
                INSERT INTO processes (owner, host, pid, started_at, heartbeat_at, lease_seconds, devices)
                VALUES (\(owner), \(request.host), \(request.pid), \(now), \(now), \(seconds), 0)
                ON CONFLICT (owner) DO UPDATE
                    SET heartbeat_at = excluded.heartbeat_at, lease_seconds = excluded.lease_seconds
                """, on: connection)
            let live = max(
                1,
                try await rows(
                    "SELECT count(*) FROM processes WHERE heartbeat_at + lease_seconds > \(now)", on: connection
                )[0][0].decode(Int.self))
            let share = (devices.count + live - 1) / live
            // Devices no longer in scope are let go; the rest are renewed.
            try await run(
                "DELETE FROM leases WHERE owner = \(owner) AND NOT (tuid = ANY(\(devices)::text[]))", on: connection)
            var held = try await rows(
                "UPDATE leases SET expires_at = \(expiry) WHERE owner = \(owner) RETURNING tuid", on: connection
            ).map { try $0[0].decode(String.self) }.sorted()
            var released: [String] = []
            var acquired: [String] = []
            if held.count > share {
                released = Array(held[share...])
                held = Array(held[..<share])
                try await run(
                    """
                    UPDATE leases SET owner = '', expires_at = 0
                    WHERE owner = \(owner) AND tuid = ANY(\(released)::text[])
                    """, on: connection)
            } else if held.count < share {
                let holding = Set(held)
                let others = devices.filter { !holding.contains($0) }
                // Rows to lock: a device nobody ever held gets a free lease row first (in sorted order, so two
                // claimers inserting at once wait for each other rather than deadlock).
                try await run(
                    """
                    INSERT INTO leases (tuid, owner, expires_at) SELECT unnest(\(others)::text[]), '', 0
                    ON CONFLICT (tuid) DO NOTHING
                    """, on: connection)
                acquired = try await rows(
                    """
                    UPDATE leases SET owner = \(owner), expires_at = \(expiry)
                    WHERE tuid IN (
                        SELECT tuid FROM leases WHERE tuid = ANY(\(others)::text[]) AND expires_at <= \(now)
                        ORDER BY tuid LIMIT \(share - held.count) FOR UPDATE SKIP LOCKED)
                    RETURNING tuid
                    """, on: connection
                ).map { try $0[0].decode(String.self) }.sorted()
                held = (held + acquired).sorted()
            }
            try await run(
                "UPDATE processes SET devices = \(held.count) WHERE owner = \(owner)", on: connection)
            return LeaseGrant(
                held: held, acquired: acquired, released: released, liveOwners: live, share: share,
                expiresAt: expiry)
        }
    }

    public func releaseLeases(owner: String) async throws {
        try await transaction("release the leases of \(owner)") { connection in
            try await run("UPDATE leases SET owner = '', expires_at = 0 WHERE owner = \(owner)", on: connection)
            try await run("DELETE FROM processes WHERE owner = \(owner)", on: connection)
        }
        fencingOwner.withLock { if $0 == owner { $0 = nil } }
    }

    public func processes() async throws -> ProcessList {
        try await withConnection("read the processes") { connection in
            let now = try await leaseNow(on: connection)
            let list = try await rows(
                """
                SELECT p.owner, p.host, p.pid, p.started_at, p.heartbeat_at, p.lease_seconds,
                    (SELECT count(*) FROM leases l WHERE l.owner = p.owner AND l.expires_at > \(now))
                FROM processes p ORDER BY p.heartbeat_at DESC, p.owner
                """, on: connection
            ).map { row in
                let heartbeat = try row[4].decode(Int64.self)
                let seconds = try row[5].decode(Int64.self)
                return ProcessRecord(
                    owner: try row[0].decode(String.self), host: try row[1].decode(String.self),
                    pid: try row[2].decode(Int.self), startedAt: try row[3].decode(Int64.self),
                    heartbeatAt: heartbeat, leaseSeconds: seconds, devices: try row[6].decode(Int.self),
                    live: heartbeat + seconds > now)
            }
            return ProcessList(now: now, processes: list)
        }
    }

    /// Who holds each device's lease now (unexpired), for tests and `tsee status`.
    public func leaseHolders() async throws -> [String: String] {
        try await withConnection("read the leases") { connection in
            let now = try await leaseNow(on: connection)
            var holders: [String: String] = [:]
            for row in try await rows(
                "SELECT tuid, owner FROM leases WHERE expires_at > \(now) AND owner <> ''", on: connection)
            {
                holders[try row[0].decode(String.self)] = try row[1].decode(String.self)
            }
            return holders
        }
    }

    // MARK: The lease clock and fencing

    /// Now on the lease clock. By default the database server's clock: every owner, on whatever machine, compares
    /// expiries against the one clock that wrote them, so a machine whose clock runs ahead cannot take a lease that
    /// is still live. Tests inject a clock to show expiry without waiting.
    func leaseNow(on connection: PostgresConnection) async throws -> Int64 {
        if let leaseClock { return leaseClock() }
        return try await rows("SELECT floor(extract(epoch FROM clock_timestamp()))::bigint", on: connection)[0][0]
            .decode(Int64.self)
    }

    /// The devices among `tuids` whose lease the fencing owner holds, locked against a takeover until the
    /// transaction ends; `nil` when this store is not fenced (no leases held: a single process).
    func fencedDevices(_ tuids: Set<String>, on connection: PostgresConnection) async throws -> Set<String>? {
        guard let owner = fencingOwner.withLock({ $0 }), !tuids.isEmpty else { return nil }
        let now = try await leaseNow(on: connection)
        let held = try await rows(
            """
            SELECT tuid FROM leases WHERE owner = \(owner) AND tuid = ANY(\(Array(tuids))::text[])
                AND expires_at > \(now)
            FOR SHARE
            """, on: connection
        ).map { try $0[0].decode(String.self) }
        return Set(held)
    }
}
