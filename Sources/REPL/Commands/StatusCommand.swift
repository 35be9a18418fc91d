import Foundation
import Store
import ThingseeAPI

extension CommandDefinition {
    static let runStatus = CommandDefinition(
        name: "status", summary: "the `tsee run` processes on the database: devices held, last heartbeat",
        usage: "",
        example: "status",
        notes: [
            "Reads the database given by --db. With PostgreSQL, several processes share the fleet through device "
                + "leases; a process whose heartbeat is older than its lease length is shown as expired, and its "
                + "devices are taken over by the others."
        ]
    ) { inv in
        try inv.expectPositionals(0, 0)
        let store = try await inv.context.openStoreForReading("status")
        let list = try await store.processes()
        await store.close()
        let rows = list.processes.map { p -> [String] in
            [
                p.owner, p.host, String(p.pid), String(p.devices), TimeText.ago(p.heartbeatAt, now: list.now),
                p.live ? "live" : "expired", TimeExpression.describe(seconds: p.leaseSeconds),
            ]
        }
        let data: [JSONValue] = list.processes.map { p in
            [
                "owner": .string(p.owner), "host": .string(p.host), "pid": .number(Double(p.pid)),
                "devices": .number(Double(p.devices)), "heartbeat_at": .number(Double(p.heartbeatAt)),
                "started_at": .number(Double(p.startedAt)), "lease_seconds": .number(Double(p.leaseSeconds)),
                "live": .bool(p.live),
            ]
        }
        inv.emit(
            Rendered(
                data: .array(data),
                table: Table(
                    columns: ["process", "host", "pid", "devices", "heartbeat", "state", "lease"], rows: rows)))
    }
}
