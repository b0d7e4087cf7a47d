import Foundation

/// The process's own resident-set figures from /proc (Linux), for the benchmark's per-phase peaks.
enum ProcessMemory {
    /// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; false where the kernel does not allow it.
    @discardableResult
    static func resetPeak() -> Bool {
        guard let h = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? h.close() }
        do { try h.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    /// VmHWM (peak since the last reset) in bytes.
    static var peakBytes: Int? { field("VmHWM") }
    /// VmRSS (now) in bytes.
    static var residentBytes: Int? { field("VmRSS") }

    private static func field(_ name: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
        }
        return nil
    }
}

/// CPU model name, for the record of where a figure came from.
func cpuModelName() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }
    return "unknown"
}
