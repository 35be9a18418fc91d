import Foundation
import Rules
import Store
import ThingseeAPI

/// Evaluates rules for chosen devices on demand, without acting or saving anything: the engine behind
/// `rules eval` and `rules explain`.
///
/// Starts from the scheduler's saved live state when the database has one for the device (so `explain` answers
/// "why didn't `tsee run` fire?"), otherwise from nothing over `lookback`; fetches what the rules need, fresh.
public struct RuleInspector: Sendable {
    public let client: ThingseeClient
    public let engine: Engine
    public let store: (any Store)?
    public var lookback: Int64

    public init(client: ThingseeClient, engine: Engine, store: (any Store)?, lookback: Int64 = 24 * 3600) {
        self.client = client
        self.engine = engine
        self.store = store
        self.lookback = lookback
    }

    /// A device's observations and rule states after evaluating its data up to the API's now.
    public struct Evaluation: Sendable {
        public var tuid: String
        public var observations: DeviceObservations
        public var states: [RuleState]
        public var firings: [Firing]
        public var now: Int64
        /// Whether the starting point was the scheduler's saved state.
        public var fromSavedState: Bool
    }

    /// Evaluates every rule for `tuid`. `group` is the device's group when the caller knows it.
    public func evaluate(_ tuid: String, group: String? = nil) async throws -> Evaluation {
        var snapshot = DeviceSnapshot()
        var states = engine.initialStates()
        var fromSaved = false
        if let store,
            let saved = SavedState.snapshots(try await store.devices(dryRun: false).filter { $0.tuid == tuid })[tuid]
        {
            snapshot = saved
            fromSaved = true
            let rows = try await store.ruleStates(dryRun: false).filter { $0.tuid == tuid }
            states = SavedState.ruleStates(rows, engine: engine)[tuid] ?? states
        }
        var options = SchedulerOptions()
        options.lookback = lookback
        let poller = DevicePoller(client: client, apiTime: ClientAPITime(client), options: options, refreshes: false)
        let messages = try await poller.poll(
            tuid, needs: DevicePoller.needs(of: engine, tuid: tuid, group: group), into: &snapshot
        ).messages
        let now = client.serverNow()
        let conversion = MessageConversion(needs: engine.ruleSet.needs)
        snapshot.observations.group = group ?? messages.last?.deploymentGroupId ?? snapshot.observations.group
        let firings = engine.evaluate(
            tuid: tuid, observations: &snapshot.observations, newMessages: messages.map(conversion.convert),
            states: &states, now: now)
        return Evaluation(
            tuid: tuid, observations: snapshot.observations, states: states, firings: firings, now: now,
            fromSavedState: fromSaved)
    }
}
