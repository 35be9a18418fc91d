import Foundation
import Simulator
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One HTTP exchange with the simulator, decoded with JSONSerialization only.
struct Reply {
    let status: Int
    let headers: [String: String]
    let body: Any?
    /// The body as received.
    var raw = Data()

    var data: Any? { (body as? [String: Any])?["data"] }
    var object: [String: Any] { data as? [String: Any] ?? [:] }
    var list: [[String: Any]] { data as? [[String: Any]] ?? [] }
    var error: [String: Any] { body as? [String: Any] ?? [:] }

    func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

/// A tiny client over URLSession: base URL, an optional token, JSON in and out.
struct TestClient {
    let base: URL
    var token: String?
    private static let session: URLSession = {
        setenv("no_proxy", "127.0.0.1,localhost", 1)
        setenv("NO_PROXY", "127.0.0.1,localhost", 1)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.connectionProxyDictionary = [:]
        return URLSession(configuration: configuration)
    }()

    init(base: URL, token: String? = nil) {
        self.base = base
        self.token = token
    }

    func send(_ method: String, _ path: String, json: Any? = nil, rawBody: String? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: base.absoluteString + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed])
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let rawBody {
            request.httpBody = Data(rawBody.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var headers: [String: String] = [:]
        for (key, value) in http.allHeaderFields {
            headers["\(key)"] = "\(value)"
        }
        let body = data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        return Reply(status: http.statusCode, headers: headers, body: body, raw: data)
    }

    func get(_ path: String) async throws -> Reply { try await send("GET", path) }
    func post(_ path: String, _ json: Any) async throws -> Reply { try await send("POST", path, json: json) }

    /// Logs in with the simulator's default credentials.
    func loggedIn() async throws -> TestClient {
        let reply = try await post("/auth/client-token", ["client_id": "sim", "client_secret": "sim-secret"])
        let token = try #require(reply.object["token"] as? String)
        return TestClient(base: base, token: token)
    }
}

/// Runs `body` against a started simulator and stops it afterwards.
func withSimulator(
    _ configure: (inout SimulatorConfiguration) -> Void = { _ in },
    _ body: (SimulatorServer, TestClient) async throws -> Void
) async throws {
    var configuration = SimulatorConfiguration()
    configuration.devices = 60
    configure(&configuration)
    let server = SimulatorServer(configuration: configuration)
    let base = try await server.start()
    do {
        try await body(server, TestClient(base: base))
    } catch {
        await server.stop()
        throw error
    }
    await server.stop()
}

extension Dictionary where Key == String {
    var sortedKeys: [String] { keys.sorted() }
}

func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
func double(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
