import ThingseeAPI

extension DeviceSnapshot {
    /// What `admit` kept and what it dropped.
    struct Admission: Sendable {
        /// The messages that count, in the order given.
        var fresh: [ThingseeAPI.Message] = []
        /// Already seen: in an earlier poll, an earlier stream batch, or twice in this one.
        var duplicates = 0
        /// Older than the window the device is read from (`cursor − overlap`): see `admit`.
        var stale = 0
    }

    /// Takes the messages that count from `messages`, a poll's or the stream's, and moves the cursor and the window
    /// of remembered keys on. The one rule by which a message seen both on the stream and in a poll counts once:
    ///
    /// - A message counts when its key `tsmTuid:tsmId:tsmEv:tsmTs` is not among the keys remembered for the window
    ///   `[cursor − overlap, cursor]`, nor earlier in the same batch.
    /// - A message older than `cursor − overlap` does not count. A poll never reads that far back (it fetches from
    ///   `cursor − overlap`), so a stream message that old could be one a poll already took and whose key the
    ///   window has since forgotten; dropping it keeps "counted once" strict, and is what the poll does too.
    /// - After admission the cursor is the newest `tsmTs` seen and the window keeps the keys at or after the new
    ///   `cursor − overlap`. Both are saved with the device, so the rule holds across restarts.
    mutating func admit(_ messages: [ThingseeAPI.Message], overlap: Int64) -> Admission {
        var admission = Admission()
        guard !messages.isEmpty else { return admission }
        var seen = Set(recentKeys)
        let floor = admissionFloor(overlap: overlap)
        for message in messages {
            if let floor, message.tsmTs < floor {
                admission.stale += 1
                continue
            }
            guard seen.insert(message.deduplicationKey).inserted else {
                admission.duplicates += 1
                continue
            }
            admission.fresh.append(message)
        }
        if let newest = admission.fresh.map(\.tsmTs).max() {
            cursor = max(cursor ?? newest, newest)
        }
        if let floor = admissionFloor(overlap: overlap) {
            let keep = recentKeys.filter { key in
                key.split(separator: ":").last.flatMap { Int64($0) }.map { $0 >= floor } ?? false
            }
            recentKeys = keep + admission.fresh.filter { $0.tsmTs >= floor }.map(\.deduplicationKey)
        }
        return admission
    }

    /// The oldest `tsmTs` the next admission takes (`cursor − overlap`; nil before the first message): older
    /// messages are stale. The cursor only moves on, so no later admission takes anything older either.
    func admissionFloor(overlap: Int64) -> Int64? {
        cursor.map { $0 - overlap }
    }
}
