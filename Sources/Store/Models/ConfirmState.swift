/// Whether a sent command's echo (`tsmEv` 31 with its `transactionId`) has arrived; stored in `actions.confirm_state`.
public enum ConfirmState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted by the API; waiting for the echo.
    case pending
    /// The echo arrived: the configuration took effect.
    case confirmed
    /// The echo did not arrive in time. A late echo can still confirm it.
    case unconfirmed
}
