import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import ThingseeAPI

/// Where a `notify TARGET` goes: a URL (https, or http to loopback), or the name of a configured target.
public struct WebhookTarget: Sendable, Equatable {
    public var url: String
    /// Extra headers (e.g. `Authorization`), secrets already read from their file or environment variable.
    public var headers: [String: String]

    public init(url: String, headers: [String: String] = [:]) {
        self.url = url
        self.headers = headers
    }
}

/// Resolves a rule's `notify` target when the action is carried out (not when rules load, so a secret read from the
/// environment is read when it is used). Throws a message a person can act on.
public typealias WebhookResolver = @Sendable (String) throws -> WebhookTarget

/// Posts notifications. One short-lived HTTP client per delivery: notifications are rare, and a client of its own
/// follows no redirect (a header such as `Authorization` must never reach another origin).
public struct Webhook: Sendable {
    let resolve: WebhookResolver
    let timeout: TimeAmount
    /// Origins that failed in this cycle: further deliveries to them wait for the next cycle, so a webhook that is
    /// down costs one timeout per cycle, not one per notification (which would hold up the devices' polling).
    let failedThisCycle = Breaker()

    init(resolve: @escaping WebhookResolver, timeout: TimeAmount) {
        self.resolve = resolve
        self.timeout = timeout
    }

    /// Forgets the failures of the previous cycle.
    func startCycle() { failedThisCycle.reset() }

    final class Breaker: Sendable {
        private let failed = Mutex<[String: String]>([:])
        func reset() { failed.withLock { $0 = [:] } }
        func reason(_ origin: String) -> String? { failed.withLock { $0[origin] } }
        func trip(_ origin: String, _ reason: String) { failed.withLock { $0[origin] = reason } }
    }

    /// The default resolver: a URL as it is; a NAME from `TSEE_NOTIFY_<NAME>_URL` (and an optional
    /// `TSEE_NOTIFY_<NAME>_AUTHORIZATION`), for when no configuration file names it.
    public static func environmentResolver(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> WebhookResolver
    {
        { target in
            if target.contains("://") { return WebhookTarget(url: target) }
            let key = target.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
            let name = "TSEE_NOTIFY_\(String(key))"
            guard let url = environment[name + "_URL"], !url.isEmpty else {
                throw WebhookError(
                    "no notification target `\(target)`: add [notify.\(target)] to the configuration file or set \(name)_URL")
            }
            var headers: [String: String] = [:]
            if let auth = environment[name + "_AUTHORIZATION"], !auth.isEmpty { headers["Authorization"] = auth }
            return WebhookTarget(url: url, headers: headers)
        }
    }

    /// POSTs `body` with `Idempotency-Key: key`. A 2xx is delivered; anything else is retried later by the caller.
    func deliver(target name: String, body: String, key: String) async -> ActionRunner.Result {
        let target: WebhookTarget
        do {
            target = try resolve(name)
            try Self.check(target.url)
        } catch {
            return .failed(httpStatus: nil, error: "\(error)")
        }
        let origin = Self.origin(target.url)
        if let reason = failedThisCycle.reason(origin) {
            return .unknown(reason: "not tried: \(origin) failed earlier this cycle (\(reason)); retried next cycle")
        }
        let result = await post(target, body: body, key: key)
        if case .unknown(let reason) = result { failedThisCycle.trip(origin, reason) }
        return result
    }

    /// `scheme://host:port` of a URL, for the per-cycle breaker.
    static func origin(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }

    private func post(_ target: WebhookTarget, body: String, key: String) async -> ActionRunner.Result {
        // A connection that cannot be made fails the delivery at once (AsyncHTTPClient would otherwise retry it
        // until the deadline): the next cycle is the retry.
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: min(timeout, .seconds(10)), read: timeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.decompression = .disabled
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { Task { try? await client.shutdown() } }
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: key)
        request.headers.add(name: "User-Agent", value: "tsee")
        for (header, value) in target.headers { request.headers.replaceOrAdd(name: header, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 1 << 16)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) else {
                return .unknown(reason: "the webhook answered \(status); delivery is retried with the same key")
            }
            return .done(httpStatus: status)
        } catch {
            return .unknown(reason: "the webhook could not be reached (\(error)); delivery is retried with the same key")
        }
    }

    /// https anywhere, http only to a loopback address.
    static func check(_ url: String) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host else {
            throw WebhookError("`\(url)` is not a webhook URL")
        }
        if scheme == "https" { return }
        guard scheme == "http", ClientConfiguration.isLoopback(host) else {
            throw WebhookError("refusing to notify `\(url)`: use https (plain http only to a loopback address)")
        }
    }
}

struct WebhookError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
