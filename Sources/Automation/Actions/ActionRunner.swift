import Foundation
import Store
import ThingseeAPI

/// Carries out logged actions against the API, and tells whether an action left open is already applied.
///
/// The one place that turns an ``ActionCall`` into a request: the live path and reconciliation both go through it,
/// so a crash-recovered action is sent exactly as the original would have been.
struct ActionRunner: Sendable {
    let client: ThingseeClient
    let webhook: Webhook

    enum Result: Sendable, Equatable {
        /// The API accepted it.
        case done(httpStatus: Int?)
        /// The API refused it, or it could not be sent: it did not happen.
        case failed(httpStatus: Int?, error: String)
        /// It may or may not have happened (5xx, timeout or connection lost after the request went out, or
        /// cancelled mid-flight). The intent stays open; reconciliation finds out before anything is sent again.
        case unknown(reason: String)

        /// The `outcome` label of `tsee_actions_total`.
        var label: String {
            switch self {
            case .done: "done"
            case .failed: "failed"
            case .unknown: "unknown"
            }
        }
    }

    /// Performs one action. Never throws: every ending is a ``Result``.
    func perform(_ call: ActionCall, tuid: String, transactionID: Int64?, key: String) async -> Result {
        do {
            switch call {
            case .move(let name):
                guard let status = InstallationStatus(rawValue: name) else {
                    return .failed(httpStatus: nil, error: "`\(name)` is not an installation status")
                }
                _ = try await client.setInstallationStatus(tuid, status)
            case .assign(let group):
                _ = try await client.assignGroup(tuid, to: group)
            case .send(let tsmId, let parameters):
                guard let transactionID else {
                    return .failed(httpStatus: nil, error: "no transaction id was logged for the command")
                }
                _ = try await client.sendCommands(
                    tuid,
                    [
                        Command(
                            tsmId: tsmId, transactionId: Int(transactionID),
                            parameters: parameters.map { (name: $0.name, value: $0.value) })
                    ])
            case .log:
                return .done(httpStatus: nil)
            case .notify(let target, let body):
                return await webhook.deliver(target: target, body: body, key: key)
            }
            return .done(httpStatus: 200)
        } catch {
            return Self.classify(error)
        }
    }

    /// What a failed write means for exactly-once: refused (it did not happen) or unknown (it may have).
    static func classify(_ error: any Error) -> Result {
        guard let error = error as? ThingseeError else {
            if error is CancellationError { return .unknown(reason: "cancelled while the request was in flight") }
            return .unknown(reason: String(describing: error))
        }
        switch error {
        case .outcomeUnknown:
            return .unknown(reason: error.description)
        case .api(_, let status, _, _) where status >= 500:
            return .unknown(reason: error.description)
        case .api(_, let status, _, _):
            return .failed(httpStatus: status, error: error.description)
        case .authentication(_, let status, _):
            return .failed(httpStatus: status, error: error.description)
        case .decoding:
            // Only a 2xx answer is decoded: the API accepted the write, whatever its body said.
            return .done(httpStatus: 200)
        case .configuration:
            return .failed(httpStatus: nil, error: error.description)
        case .unreachable, .cancelled:
            // The client retried what never left; what is left may or may not have reached the API, and an
            // action that failed for good would be a firing lost: reconciliation decides.
            return .unknown(reason: error.description)
        }
    }

    enum Reconciliation: Sendable, Equatable {
        case applied
        case notApplied
    }

    /// Whether an action's effect is already visible at the API: the command's transaction id in the device's
    /// command history, the device already in the status or group. Throws when the API cannot tell.
    func reconcile(_ call: ActionCall, tuid: String, transactionID: Int64?) async throws -> Reconciliation {
        switch call {
        case .send:
            guard let tx = transactionID else { return .notApplied }
            let applied = try await client.commandHistory(tuid).contains { $0.transactionId.map(Int64.init) == tx }
            return applied ? .applied : .notApplied
        case .move(let status):
            let current = try await client.installations(tuid, limit: 1).first?.installationStatus
            return current == status ? .applied : .notApplied
        case .assign(let group):
            return try await client.groupThings(group).tuids.contains(tuid) ? .applied : .notApplied
        case .log:
            return .applied
        case .notify:
            // A webhook cannot be asked; delivery is retried with the same Idempotency-Key, which the receiver
            // uses to drop a second copy.
            return .notApplied
        }
    }
}
