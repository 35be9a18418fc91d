import Foundation
import Store
import Testing
import TestSupport

/// Device leases on PostgreSQL: every device held by exactly one process, fair shares, expiry and takeover, and the
/// fence that keeps a process that lost a device from writing for it. The lease clock is moved by hand.
@Suite struct LeaseTests {
    let tuids = (0..<30).map { String(format: "TSPD04ESY93%06d", $0) }

    func request(_ owner: String, _ devices: [String], seconds: Int64 = 180) -> LeaseRequest {
        LeaseRequest(owner: owner, devices: devices, leaseSeconds: seconds, host: "test", pid: 1)
    }

    /// Each device's holder, checked to be one owner (the primary key says so; this checks the grants agree).
    func expectExactlyOneHolder(
        _ grants: [String: LeaseGrant], devices: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var holders: [String: [String]] = [:]
        for (owner, grant) in grants { for tuid in grant.held { holders[tuid, default: []].append(owner) } }
        #expect(holders.values.allSatisfy { $0.count == 1 }, "\(holders)", sourceLocation: sourceLocation)
        #expect(Set(holders.keys) == Set(devices), sourceLocation: sourceLocation)
    }

    @Test func threeProcessesSplitTheFleetFairlyAndANewcomerGetsItsShare() async throws {
        let db = try TestDatabase(.postgres)
        let clock = LeaseClock()
        let stores = [try await db.openPostgres(leaseClock: clock), try await db.openPostgres(leaseClock: clock)]
        var grants: [String: LeaseGrant] = [:]
        // A alone takes everything.
        grants["a"] = try await stores[0].holdLeases(request("a", tuids))
        #expect(grants["a"]?.held.count == 30)
        // B arrives: nothing is free yet; A gives back its extra half on its next cycle, B takes it on its next.
        grants["b"] = try await stores[1].holdLeases(request("b", tuids))
        #expect(grants["b"]?.held.isEmpty == true)
        #expect(grants["b"]?.share == 15)
        clock.advance(by: 60)
        grants["a"] = try await stores[0].holdLeases(request("a", tuids))
        #expect(grants["a"]?.released.count == 15)
        grants["b"] = try await stores[1].holdLeases(request("b", tuids))
        #expect(grants["b"]?.acquired.count == 15)
        expectExactlyOneHolder(grants, devices: tuids)

        // C arrives: within two cycles each holds ceil(30 / 3) = 10.
        let c = try await db.openPostgres(leaseClock: clock)
        for _ in 0..<2 {
            clock.advance(by: 60)
            grants["c"] = try await c.holdLeases(request("c", tuids))
            grants["a"] = try await stores[0].holdLeases(request("a", tuids))
            grants["b"] = try await stores[1].holdLeases(request("b", tuids))
        }
        grants["c"] = try await c.holdLeases(request("c", tuids))
        #expect(grants.values.map(\.held.count).sorted() == [10, 10, 10])
        expectExactlyOneHolder(grants, devices: tuids)
        #expect(try await stores[0].leaseHolders().count == 30)

        let status = try await c.processes()
        #expect(status.processes.map(\.owner).sorted() == ["a", "b", "c"])
        #expect(status.processes.allSatisfy { $0.live && $0.devices == 10 })
        for store in stores + [c] { await store.close() }
    }

    @Test func aSilentProcessesDevicesAreTakenOverWithinTwoLeaseLengths() async throws {
        let db = try TestDatabase(.postgres)
        let clock = LeaseClock()
        let a = try await db.openPostgres(leaseClock: clock)
        let b = try await db.openPostgres(leaseClock: clock)
        let lease: Int64 = 180
        let interval: Int64 = 60
        var grants: [String: LeaseGrant] = [:]
        for _ in 0..<3 {
            grants["a"] = try await a.holdLeases(request("a", tuids, seconds: lease))
            grants["b"] = try await b.holdLeases(request("b", tuids, seconds: lease))
            clock.advance(by: interval)
        }
        #expect(grants["b"]?.held.count == 15)
        let lost = Set(grants["b"]!.held)
        // B goes silent (killed: no release). A keeps cycling every interval.
        let silentSince = clock.now - interval
        var takenOverAt: Int64?
        while clock.now - silentSince <= 2 * lease {
            let grant = try await a.holdLeases(request("a", tuids, seconds: lease))
            #expect(Set(grant.held).isDisjoint(with: lost) || clock.now - silentSince >= lease)
            if Set(grant.held).isSuperset(of: lost) {
                takenOverAt = clock.now
                break
            }
            clock.advance(by: interval)
        }
        let at = try #require(takenOverAt, "B's devices were not taken over within two lease lengths")
        #expect(at - silentSince <= 2 * lease)
        #expect(at - silentSince >= lease)
        #expect(try await a.leaseHolders().values.allSatisfy { $0 == "a" })
        #expect(try await a.processes().processes.first { $0.owner == "b" }?.live == false)
        await a.close()
        await b.close()
    }

    @Test func aProcessThatLostADeviceCannotWriteForIt() async throws {
        let db = try TestDatabase(.postgres)
        let clock = LeaseClock()
        let a = try await db.openPostgres(leaseClock: clock)
        let b = try await db.openPostgres(leaseClock: clock)
        let device = tuids[0]
        #expect(try await a.holdLeases(request("a", [device], seconds: 60)).held == [device])
        try await a.recordIntents([intent(tuid: device, sequence: 1)])

        // A stalls past its lease; B takes the device over.
        clock.advance(by: 61)
        #expect(try await b.holdLeases(request("b", [device], seconds: 60)).acquired == [device])
        let refused = await #expect(throws: StoreError.self) {
            try await a.recordIntents(
                [intent(tuid: device, sequence: 2)],
                ruleStates: [RuleStateRow(rule: "low-battery", tuid: device, dryRun: false, state: Data("a".utf8))])
        }
        #expect(refused?.kind == .leaseLost(tuid: device))
        // A's late state save keeps nothing of the device; B's writes stand.
        try await b.saveState(
            ruleStates: [RuleStateRow(rule: "low-battery", tuid: device, dryRun: false, state: Data("b".utf8))],
            devices: [])
        try await a.saveState(
            ruleStates: [RuleStateRow(rule: "low-battery", tuid: device, dryRun: false, state: Data("a".utf8))],
            devices: [DeviceRow(tuid: device, dryRun: false, cursorTs: 1)])
        #expect(try await b.ruleStates(dryRun: false).map(\.state) == [Data("b".utf8)])
        #expect(try await b.devices(dryRun: false).isEmpty)
        #expect(try await b.actions().count == 1)
        // The open intent A left is B's to reconcile now.
        #expect(try await b.openIntents().map(\.tuid) == [device])
        await a.close()
        await b.close()
    }

    @Test func concurrentClaimersNeverHoldOneDeviceTwice() async throws {
        let db = try TestDatabase(.postgres)
        let clock = LeaseClock()
        let owners = ["a", "b", "c", "d"]
        var stores: [PostgresStore] = []
        for _ in owners { stores.append(try await db.openPostgres(leaseClock: clock)) }
        let devices = (0..<400).map { String(format: "TSPD04ESY93%06d", $0) }
        for round in 0..<6 {
            let grants = try await withThrowingTaskGroup(of: (String, LeaseGrant).self) { group in
                for (owner, store) in zip(owners, stores) {
                    group.addTask { (owner, try await store.holdLeases(self.request(owner, devices))) }
                }
                return try await group.reduce(into: [String: LeaseGrant]()) { $0[$1.0] = $1.1 }
            }
            var seen: [String: String] = [:]
            for (owner, grant) in grants {
                for tuid in grant.held {
                    #expect(seen[tuid] == nil, "round \(round): \(tuid) held by \(seen[tuid] ?? "") and \(owner)")
                    seen[tuid] = owner
                }
                #expect(grant.held.count <= grant.share)
            }
            clock.advance(by: 30)
        }
        // Settled (one at a time, twice: give back, then take): the fair share each.
        for _ in 0..<2 {
            for (owner, store) in zip(owners, stores) { _ = try await store.holdLeases(request(owner, devices)) }
        }
        let holders = try await stores[0].leaseHolders()
        #expect(holders.count == 400)
        #expect(Dictionary(grouping: holders.values, by: { $0 }).mapValues(\.count).values.allSatisfy { $0 == 100 })
        for store in stores { await store.close() }
    }

    @Test(arguments: Backend.allCases) func aCleanStopGivesTheDevicesBackAtOnce(_ backend: Backend) async throws {
        let db = try TestDatabase(backend)
        let clock = LeaseClock()
        let a = try await db.open(leaseClock: clock)
        let b = try await db.open(leaseClock: clock)
        #expect(try await a.holdLeases(request("a", tuids)).held.count == 30)
        try await a.releaseLeases(owner: "a")
        #expect(try await b.processes().processes.map(\.owner) == [])
        if backend == .postgres {
            #expect(try await b.holdLeases(request("b", tuids)).acquired.count == 30)
        }
        await a.close()
        await b.close()
    }
}
