import Foundation

/// The machine a run was made on, for the record.
enum Machine {
    static func describe() -> [String: String] {
        var info: [String: String] = [:]
        info["cores"] = String(ProcessInfo.processInfo.activeProcessorCount)
        if let cpu = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let line = cpu.split(separator: "\n").first(where: { $0.hasPrefix("model name") })
        {
            info["cpu"] = line.split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        }
        info["memory"] = String(format: "%.1f GB", Double(ProcessInfo.processInfo.physicalMemory) / 1e9)
        info["date"] = ISO8601DateFormatter().string(from: Date())
        if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) {
            info["load"] = load.split(separator: " ").prefix(3).joined(separator: " ")
        }
        return info
    }
}
