import Dispatch
import Foundation
import Synchronization
import ThingseeAPI

/// Group ids and TUIDs for Tab completion, refreshed from the API in the background.
///
/// Completion reads whatever is cached; when the cache is stale it starts a refresh and waits for it at most
/// `maxWait`, so a slow or unreachable API never freezes the prompt.
public final class CompletionCache: Sendable {
    private let state = Mutex(State())
    /// How long cached values are trusted before a refresh.
    public let freshness: Duration
    public let maxWait: Duration

    struct State {
        var groups: Set<String> = []
        var tuids: Set<String> = []
        var refreshedAt: ContinuousClock.Instant?
        var refreshing = false
    }

    public init(freshness: Duration = .seconds(60), maxWait: Duration = .milliseconds(300)) {
        self.freshness = freshness
        self.maxWait = maxWait
    }

    public var groups: [String] { state.withLock { $0.groups.sorted() } }
    public var tuids: [String] { state.withLock { $0.tuids.sorted() } }

    public func note(tuid: String) { _ = state.withLock { $0.tuids.insert(tuid) } }
    public func note(group: String) { _ = state.withLock { $0.groups.insert(group) } }
    public func forget(group: String) { _ = state.withLock { $0.groups.remove(group) } }

    /// Reloads groups and the TUIDs of every group. Failures leave the cache as it was.
    public func refresh(using client: ThingseeClient) async {
        let start = state.withLock { s -> Bool in
            if s.refreshing { return false }
            s.refreshing = true
            return true
        }
        guard start else { return }
        defer { state.withLock { $0.refreshing = false } }
        guard let groups = try? await client.groups() else { return }
        let ids = Array(Set(groups.map(\.groupId) + ["unassigned"]).prefix(200))
        let tuids = await withTaskGroup(of: [String].self) { group in
            for id in ids {
                group.addTask { (try? await client.groupThings(id))?.tuids ?? [] }
            }
            var all: Set<String> = []
            for await list in group { all.formUnion(list) }
            return all
        }
        state.withLock { s in
            s.groups.formUnion(groups.map(\.groupId))
            s.tuids.formUnion(tuids)
            s.refreshedAt = .now
        }
    }

    /// Starts a refresh when the cache is stale and waits for it at most `maxWait`. For the completion
    /// callback, which runs on readline's thread outside of Swift concurrency.
    public func refreshIfStale(using client: ThingseeClient) {
        let stale = state.withLock { s in
            !s.refreshing && (s.refreshedAt.map { ContinuousClock.now - $0 > freshness } ?? true)
        }
        guard stale else { return }
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            await self.refresh(using: client)
            done.signal()
        }
        let ms = Int(maxWait.components.seconds * 1000 + maxWait.components.attoseconds / 1_000_000_000_000_000)
        _ = done.wait(timeout: .now() + .milliseconds(ms))
    }
}
