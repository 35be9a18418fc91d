/// How an action ended, or that it has not yet (``intent``); stored in `actions.outcome`.
///
/// An open set: the constants below are what tsee writes today, and a value read from a newer database is kept as is.
public struct ActionOutcome: RawRepresentable, Sendable, Hashable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Written before the API call; not yet known to have happened.
    public static let intent: ActionOutcome = "intent"
    /// The API accepted the call (or, for `log`, the text was recorded).
    public static let done: ActionOutcome = "done"
    /// Not carried out because it was not needed (e.g. the device already had that status).
    public static let skipped: ActionOutcome = "skipped"
    /// The API refused or could not be reached.
    public static let failed: ActionOutcome = "failed"
    /// A dry run (or `mode shadow`): what would have been done.
    public static let would: ActionOutcome = "would"

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
