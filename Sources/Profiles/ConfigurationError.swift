/// A configuration file that cannot be used: where, and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The file, when the problem is in one.
    public var path: String?
    /// 1-based line and column, when the TOML parser gives them.
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(path: String? = nil, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `PATH:LINE:COL: message`.
    public var description: String {
        var location = path ?? ""
        if let line { location += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        return location.isEmpty ? message : "\(location): \(message)"
    }
}
