import Synchronization

/// The cached access token: one login at a time, shared by every waiting request.
///
/// Reading a valid token takes one short lock and no suspension (it is on every request's path). A token the
/// API rejects as expired earlier than assumed teaches the cache a shorter lifetime, so later tokens are renewed
/// before they expire instead of costing a 401 each time.
final class TokenCache: Sendable {
    private struct State {
        var token: Secret?
        var issuedAt: Duration = .zero
        var expiresAt: Duration = .zero
        var learnedLifetime: Duration?
        /// The login in progress, awaited by every request that needs a token meanwhile.
        var pending: Task<Secret, any Error>?
    }

    private let clock: ClientClock
    private let state = Mutex(State())

    init(clock: ClientClock) {
        self.clock = clock
    }

    /// The cached token while it is younger than `lifetime` seconds (or the learned lifetime), else a new one
    /// from `login`, shared with every concurrent caller.
    func current(lifetime: Double, login: @escaping @Sendable () async throws -> Secret) async throws -> Secret {
        enum Step {
            case cached(Secret)
            case wait(Task<Secret, any Error>)
        }
        let now = clock.elapsed()
        let step = state.withLock { s -> Step in
            if let token = s.token, now < s.expiresAt { return .cached(token) }
            if let pending = s.pending { return .wait(pending) }
            let clock = clock
            let task = Task { [self] in
                do {
                    let fresh = try await login()
                    let issued = clock.elapsed()
                    let assumed = Duration.milliseconds(Int64(max(lifetime, 1) * 1000))
                    state.withLock { s in
                        s.token = fresh
                        s.issuedAt = issued
                        s.expiresAt = issued + min(assumed, s.learnedLifetime ?? assumed)
                        s.pending = nil
                    }
                    return fresh
                } catch {
                    state.withLock { $0.pending = nil }
                    throw error
                }
            }
            s.pending = task
            return .wait(task)
        }
        switch step {
        case .cached(let token): return token
        case .wait(let task): return try await task.value
        }
    }

    /// Forgets `stale` if it is still the cached token (another request may have renewed it already).
    func invalidate(_ stale: Secret) {
        let now = clock.elapsed()
        state.withLock { s in
            guard s.token == stale else { return }
            if now < s.expiresAt {
                // Rejected before its assumed expiry: renew at 80 % of the age it reached from now on.
                s.learnedLifetime = max((now - s.issuedAt) * 0.8, .milliseconds(200))
            }
            s.token = nil
        }
    }

    func invalidateAll() {
        state.withLock { $0.token = nil }
    }
}
