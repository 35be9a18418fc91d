import Foundation
import TestSupport

@testable import ThingseeAPI

extension FaultServer {
    /// A client of this server, with no retries unless asked.
    func client(
        retry: RetryPolicy = .none, timeout: Double = 10, clock: any Clock<Duration> = ContinuousClock(),
        baseURL: String? = nil, trusting roots: [String] = [], tokenLifetime: Double = 900,
        maximumBodyBytes: Int = ClientConfiguration.maximumBodyBytes
    ) throws -> ThingseeClient {
        var configuration = try ClientConfiguration(
            baseURL: baseURL ?? self.baseURL, clientID: "fault", clientSecret: Secret("fault-secret-123"),
            retry: retry, timeout: timeout, tokenLifetime: tokenLifetime)
        configuration.additionalTrustRoots = roots
        return ThingseeClient(configuration: configuration, clock: clock, maximumBodyBytes: maximumBodyBytes)
    }

    /// Starts a server, runs `body` with it and always stops it.
    static func with<T>(
        compress: Bool = false, tls: (certificate: String, key: String)? = nil, _ script: @escaping Script,
        _ body: (FaultServer) async throws -> T
    ) async throws -> T {
        let server = try await start(compress: compress, tls: tls, script)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}

extension FaultServer.Request {
    /// The path without the base path and query, e.g. `/things/T/messages`.
    var route: String {
        let path = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        return path.hasPrefix("/prod/v1") ? String(path.dropFirst("/prod/v1".count)) : path
    }

    /// The query's items, percent-decoded.
    var query: [String: String] {
        guard let q = path.split(separator: "?", maxSplits: 1).dropFirst().first else { return [:] }
        var items: [String: String] = [:]
        for pair in q.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            items[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        return items
    }

    var json: JSONValue? { try? JSONValue.parse(Data(body.utf8)) }
}

/// `{"statusCode", "error", "message"}`, as the API sends errors.
func apiErrorBody(_ status: Int, _ error: String, _ message: String) -> String {
    #"{"statusCode": \#(status), "error": "\#(error)", "message": "\#(message)"}"#
}
