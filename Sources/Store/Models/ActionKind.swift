/// What a rule action does; stored in `actions.action`.
public enum ActionKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// `move to STATUS`: post an installation status.
    case move
    /// `send command TSMID …`: post a command; confirmed later by the device's echo.
    case send
    /// `assign group ID`: post the device's group.
    case assign
    /// `log "…"`: record text only; no API call.
    case log
    /// `notify TARGET`: POST the firing as JSON to a webhook, with the firing key as `Idempotency-Key`.
    case notify
}
