/// The saved-state layout of a device's observations (``StateWriter``): what `encode(to:)` writes as JSON, in
/// a fixed order, history and message stamps as runs of 16-byte (time, value) pairs.
extension DeviceObservations {
    /// About how many bytes `write(to:)` takes, to size the buffer once.
    public var savedSizeEstimate: Int {
        64 * fieldNames.count + 16 * (messages.count + history.reduce(0) { $0 + $1.samples.count })
    }

    public func write(to writer: inout StateWriter) {
        writer.optional(status)
        writer.optional(group)
        writer.optional(firmware)
        writer.optional(batteryLevel)
        Self.write(alerts, to: &writer)
        writer.bool(pollFailed)
        writer.optional(lastReportAt)
        writer.optional(firstListedAt)
        writer.optional(newestMessageTime)
        writer.int64(Int64(clockErrors))
        writer.strings(fieldNames)
        for slot in fieldNames.indices {
            writer.byte(kinds[slot])
            writer.double(numbers[slot])
            writer.string(strings[slot])
            writer.int64(times[slot])
            let samples = slot < history.count ? history[slot].samples : []
            writer.count(samples.count)
            for sample in samples {
                writer.int64(sample.time)
                writer.double(sample.value)
            }
        }
        writer.count(messages.count)
        for stamp in messages {
            writer.int64(stamp.time)
            writer.int64(Int64(stamp.key))
        }
        Self.write(alertsSeen, to: &writer)
    }

    public init(reading reader: inout StateReader) throws {
        self.init(
            status: try reader.optionalString(), group: try reader.optionalString(),
            firmware: try reader.optionalString(), batteryLevel: try reader.optionalDouble(),
            alerts: try Self.readAlerts(&reader))
        pollFailed = try reader.bool()
        lastReportAt = try reader.optionalInt64()
        firstListedAt = try reader.optionalInt64()
        newestMessageTime = try reader.optionalInt64()
        clockErrors = Int(try reader.int64())
        fieldNames = try reader.strings()
        let n = fieldNames.count
        kinds.reserveCapacity(n)
        numbers.reserveCapacity(n)
        strings.reserveCapacity(n)
        times.reserveCapacity(n)
        history.reserveCapacity(n)
        for _ in 0..<n {
            kinds.append(try reader.byte())
            numbers.append(try reader.double())
            strings.append(try reader.string())
            times.append(try reader.int64())
            var series = Series()
            let count = try reader.count(itemSize: 16)
            series.samples.reserveCapacity(count)
            for _ in 0..<count { series.samples.append(Sample(time: try reader.int64(), value: try reader.double())) }
            history.append(series)
        }
        let count = try reader.count(itemSize: 16)
        messages.reserveCapacity(count)
        for _ in 0..<count { messages.append(Stamp(time: try reader.int64(), key: Int(try reader.int64()))) }
        alertsSeen = try Self.readAlerts(&reader)
    }

    private static func write(_ alerts: [AlertEpisode]?, to writer: inout StateWriter) {
        writer.bool(alerts != nil)
        guard let alerts else { return }
        writer.count(alerts.count)
        for alert in alerts {
            writer.string(alert.type)
            writer.int64(alert.from)
            writer.optional(alert.to)
        }
    }

    private static func readAlerts(_ reader: inout StateReader) throws -> [AlertEpisode]? {
        guard try reader.bool() else { return nil }
        let n = try reader.count(itemSize: 13)
        var alerts: [AlertEpisode] = []
        alerts.reserveCapacity(n)
        for _ in 0..<n {
            alerts.append(
                AlertEpisode(type: try reader.string(), from: try reader.int64(), to: try reader.optionalInt64()))
        }
        return alerts
    }
}
