import ThingseeAPI

/// Where the scheduler reads "now" for evaluation: the API's own clock (Unix seconds).
///
/// In `tsee run` this is the client's view of the server's `Date` headers; tests inject their own.
public protocol APITime: Sendable {
    func now() -> Int64
}

/// The API's clock as the client last saw it in a `Date` header, advanced by the local clock since.
public struct ClientAPITime: APITime {
    public let client: ThingseeClient
    public init(_ client: ThingseeClient) { self.client = client }
    public func now() -> Int64 { client.serverNow() }
}
