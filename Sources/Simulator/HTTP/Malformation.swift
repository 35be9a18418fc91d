import Foundation

/// The ways a simulated answer's body goes wrong, for testing how a client copes with a broken API.
enum Malformation: CaseIterable, Sendable {
    /// The real body cut off in the middle, as when a connection drops mid-response.
    case truncated
    /// The real shape with every value of the wrong type: numbers as strings, strings as numbers.
    case wrongTypes
    /// Several megabytes of well-formed JSON that is not what the endpoint returns.
    case huge

    /// The body sent instead of `{"data": data}`.
    func body(for data: JSON) -> Data {
        switch self {
        case .truncated:
            let whole = JSON.object([("data", data)]).encoded()
            return whole.prefix(max(1, whole.count / 2))
        case .wrongTypes:
            return JSON.object([("data", Self.mistyped(data))]).encoded()
        case .huge:
            let filler = String(repeating: "x", count: 1024)
            let items = (0..<6 * 1024).map { JSON.object([("junk", .int($0)), ("filler", .string(filler))]) }
            return JSON.object([("data", .array(items))]).encoded()
        }
    }

    private static func mistyped(_ value: JSON) -> JSON {
        switch value {
        case .null: return .int(0)
        case .bool(let b): return .string(b ? "yes" : "no")
        case .int(let i): return .string("#\(i)")
        case .double(let d): return .string("~\(d)")
        case .string(let s): return .int(s.count)
        case .raw(let bytes): return JSON.parse(Data(bytes)).map(mistyped) ?? .null
        case .array(let values): return .array(values.map(mistyped))
        case .object(let pairs): return .object(pairs.map { ($0.0, mistyped($0.1)) })
        }
    }
}
