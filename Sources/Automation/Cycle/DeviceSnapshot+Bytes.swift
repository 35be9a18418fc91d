import Foundation
import Rules

/// A snapshot's row in the `devices.observations` column: the saved-state layout of ``StateWriter`` behind a
/// four-byte mark, or JSON as tsee wrote it before (a row starting with `{`), which is still read.
extension DeviceSnapshot {
    /// The mark of the binary layout: a zero byte (never the start of a JSON row), "TS" and the layout's version.
    static let mark: [UInt8] = [0, 0x54, 0x53, 1]

    var row: Data { Data(bytes) }

    /// The row's bytes: how the scheduler also holds the snapshot between the device's turns (``PackedDevice``).
    var bytes: [UInt8] {
        var writer = StateWriter(capacity: 512 + observations.savedSizeEstimate)
        for byte in Self.mark { writer.byte(byte) }
        observations.write(to: &writer)
        writer.strings(recentKeys)
        writer.optional(cursor)
        writer.optional(alertsFetchedAt)
        writer.optional(statusFetchedAt)
        writer.optional(thingFetchedAt)
        return writer.bytes
    }

    /// The snapshot a row holds, either layout; nil when it holds neither (the device then starts afresh).
    init?(row data: Data, decoder: JSONDecoder) {
        guard data.count >= Self.mark.count, data.prefix(Self.mark.count).elementsEqual(Self.mark) else {
            guard let snapshot = try? decoder.decode(DeviceSnapshot.self, from: data) else { return nil }
            self = snapshot
            return
        }
        self.init(bytes: data)
    }

    /// The snapshot in the binary layout `bytes` writes; nil when `data` is not that.
    init?<Bytes: ContiguousBytes>(bytes data: Bytes) {
        do {
            self = try StateReader.read(data) { reader in
                for byte in Self.mark {
                    guard try reader.byte() == byte else { throw StateBytesError("saved state: not the binary layout") }
                }
                var snapshot = DeviceSnapshot()
                snapshot.observations = try DeviceObservations(reading: &reader)
                snapshot.recentKeys = try reader.strings()
                snapshot.cursor = try reader.optionalInt64()
                snapshot.alertsFetchedAt = try reader.optionalInt64()
                snapshot.statusFetchedAt = try reader.optionalInt64()
                snapshot.thingFetchedAt = try reader.optionalInt64()
                guard reader.isAtEnd else { throw StateBytesError("saved state: bytes after the snapshot") }
                return snapshot
            }
        } catch {
            return nil
        }
    }
}
