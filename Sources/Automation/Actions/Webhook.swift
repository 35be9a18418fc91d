import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
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
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: timeout, read: timeout))
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
