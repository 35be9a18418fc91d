/// Remembers the keys of the last `capacity` messages and says whether a message was already seen.
///
/// A ring of keys plus a set: O(1) per message, memory bounded by the window. A duplicate older than the window
/// passes again; the consumer's own cursor (`tsmTs` per device) is the last line of defence.
struct Deduplicator: Sendable {
    let capacity: Int
    private var seen: Set<MessageKey> = []
    private var order: [MessageKey] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        seen.reserveCapacity(min(self.capacity, 1 << 16))
    }

    /// True the first time a key is offered within the window; false for a duplicate.
    mutating func admit(_ key: MessageKey) -> Bool {
        guard capacity > 0 else { return true }
        guard !seen.contains(key) else { return false }
        if order.count < capacity {
            order.append(key)
        } else {
            seen.remove(order[next])
            order[next] = key
            next = (next + 1) % capacity
        }
        seen.insert(key)
        return true
    }

    var count: Int { seen.count }
}
