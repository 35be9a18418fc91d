/// Rule states in a compact binary layout (``StateWriter``): how the scheduler holds a device's rule states in
/// memory between its turns. The database keeps its JSON rows (`jsonRow`); this layout never leaves the process, so
/// it may change with any release.
///
/// Times are Unix seconds close to one another, so each is written as its difference from the time written before
/// it, a zigzag varint (one to three bytes where eight would be fixed), and counts as varints: ten rules' states of
/// a device take about half what fixed widths took (a 100,000-device fleet: about 50 MB less).
extension RuleState {
    public func write(to writer: inout StateWriter) {
        switch phase {
        case .inactive: writer.byte(0)
        case .pending: writer.byte(1)
        case .firing: writer.byte(2)
        }
        writer.byte(trackedTruth.map { $0.rawValue } ?? Self.noTruth)
        let times = [phaseSince, holdingSince, trackedUntil, firedAt, emittedAt, resolvedAt]
        var present: UInt8 = 0
        for (i, time) in times.enumerated() where time != nil { present |= 1 << i }
        writer.byte(present)
        var previous: Int64 = 0
        func time(_ value: Int64) {
            writer.signed(value &- previous)
            previous = value
        }
        for value in times { if let value { time(value) } }
        writer.signed(Int64(reportsInARow))
        writer.signed(Int64(repeatsDone))
        writer.signed(Int64(sequence))
        for list in [changes, clearChanges, reports] {
            writer.varint(UInt64(list.count))
            for change in list {
                time(change.time)
                writer.byte(change.truth.rawValue)
            }
        }
    }

    public init(reading reader: inout StateReader) throws {
        self.init()
        switch try reader.byte() {
        case 0: phase = .inactive
        case 1: phase = .pending
        case 2: phase = .firing
        case let code: throw StateBytesError("rule state: \(code) is not a phase")
        }
        let truth = try reader.byte()
        trackedTruth = truth == Self.noTruth ? nil : try Self.truth(truth)
        let present = try reader.byte()
        guard present < 1 << 6 else { throw StateBytesError("rule state: \(present) is not a set of times") }
        var previous: Int64 = 0
        func time() throws -> Int64 {
            previous = previous &+ (try reader.signed())
            return previous
        }
        var times = [Int64?](repeating: nil, count: 6)
        for i in times.indices where present & (1 << i) != 0 { times[i] = try time() }
        (phaseSince, holdingSince, trackedUntil) = (times[0], times[1], times[2])
        (firedAt, emittedAt, resolvedAt) = (times[3], times[4], times[5])
        reportsInARow = Int(clamping: try reader.signed())
        repeatsDone = Int(clamping: try reader.signed())
        sequence = Int(clamping: try reader.signed())
        var lists: [[TruthChange]] = []
        for _ in 0..<3 {
            let n = try reader.varint()
            // Each change takes two bytes at least: a count beyond what is left is refused before allocating.
            guard n <= UInt64(reader.remaining / 2) else {
                throw StateBytesError("rule state: \(n) changes is beyond the row's end")
            }
            var list: [TruthChange] = []
            list.reserveCapacity(Int(n))
            for _ in 0..<n { list.append(TruthChange(time: try time(), truth: try Self.truth(try reader.byte()))) }
            lists.append(list)
        }
        (changes, clearChanges, reports) = (lists[0], lists[1], lists[2])
    }

    private static let noTruth: UInt8 = 0xFF

    private static func truth(_ code: UInt8) throws -> Truth {
        guard let truth = Truth(rawValue: code) else { throw StateBytesError("rule state: \(code) is not a truth") }
        return truth
    }
}
