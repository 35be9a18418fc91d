/// Rule states in the saved-state layout (``StateWriter``): how the scheduler holds a device's rule states in
/// memory between its turns. The database keeps its JSON rows (`jsonRow`); this layout never leaves the process.
extension RuleState {
    public func write(to writer: inout StateWriter) {
        switch phase {
        case .inactive: writer.byte(0)
        case .pending: writer.byte(1)
        case .firing: writer.byte(2)
        }
        writer.byte(trackedTruth.map { $0.rawValue } ?? Self.noTruth)
        writer.optional(phaseSince)
        writer.optional(holdingSince)
        writer.optional(trackedUntil)
        writer.optional(firedAt)
        writer.optional(emittedAt)
        writer.optional(resolvedAt)
        writer.int64(Int64(reportsInARow))
        writer.int64(Int64(repeatsDone))
        writer.int64(Int64(sequence))
        Self.write(changes, to: &writer)
        Self.write(clearChanges, to: &writer)
        Self.write(reports, to: &writer)
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
        phaseSince = try reader.optionalInt64()
        holdingSince = try reader.optionalInt64()
        trackedUntil = try reader.optionalInt64()
        firedAt = try reader.optionalInt64()
        emittedAt = try reader.optionalInt64()
        resolvedAt = try reader.optionalInt64()
        reportsInARow = Int(clamping: try reader.int64())
        repeatsDone = Int(clamping: try reader.int64())
        sequence = Int(clamping: try reader.int64())
        changes = try Self.readChanges(&reader)
        clearChanges = try Self.readChanges(&reader)
        reports = try Self.readChanges(&reader)
    }

    private static let noTruth: UInt8 = 0xFF

    private static func truth(_ code: UInt8) throws -> Truth {
        guard let truth = Truth(rawValue: code) else { throw StateBytesError("rule state: \(code) is not a truth") }
        return truth
    }

    private static func write(_ changes: [TruthChange], to writer: inout StateWriter) {
        writer.count(changes.count)
        for change in changes {
            writer.int64(change.time)
            writer.byte(change.truth.rawValue)
        }
    }

    private static func readChanges(_ reader: inout StateReader) throws -> [TruthChange] {
        let n = try reader.count(itemSize: 9)
        var changes: [TruthChange] = []
        changes.reserveCapacity(n)
        for _ in 0..<n { changes.append(TruthChange(time: try reader.int64(), truth: try truth(try reader.byte()))) }
        return changes
    }
}
