import Hummingbird

/// The request context of the simulator's router: Hummingbird's core storage, and what the middleware asks of
/// the matched route.
struct SimulatorContext: RequestContext {
    static let basePath = "/prod/v1"
    static let tokenRoute = "/auth/client-token"

    var coreContext: CoreRequestContextStorage

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// The matched route below `/prod/v1` with its parameters as placeholders, e.g. `/things/{tuid}/messages`;
    /// nil for a request no route matched.
    var template: String? {
        guard let path = endpointPath else { return nil }
        return path.hasPrefix(Self.basePath) ? String(path.dropFirst(Self.basePath.count)) : path
    }

    /// A matched API route other than the token endpoint.
    var isAPIRoute: Bool {
        guard let template else { return false }
        return template != Self.tokenRoute
    }

    /// A successful answer of this request changes the fleet (token requests excepted).
    func isWrite(_ request: Request) -> Bool {
        isAPIRoute && (request.method == .post || request.method == .delete)
    }

    /// A read of the API (token requests excepted).
    func isRead(_ request: Request) -> Bool {
        isAPIRoute && request.method == .get
    }
}
