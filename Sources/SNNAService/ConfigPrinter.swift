import Foundation

/// The effective configuration as YAML, in the shipped file's order (what `snna check-config` prints).
public enum ConfigPrinter {
    public static func render(_ c: ServiceConfig) -> String {
        func q(_ s: String) -> String {
            let data = (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8)
            return String(decoding: data, as: UTF8.self)
        }
        func opt<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "null" }
        var lines: [String] = ["watch:"]
        for w in c.watch {
            lines.append("  - path: \(q(w.path))")
            lines.append("    recursive: \(w.recursive)")
            lines.append("    patterns: [\(w.patterns.map(q).joined(separator: ", "))]")
        }
        lines += [
            "output: \(q(c.output))",
            "state: \(q(c.state))",
            "model: \(q(c.model))",
            "process:",
            "  predict_stride: \(c.process.predictStride)",
            "  explain_stride: \(c.process.explainStride)",
            "  method: \(c.process.method.rawValue)",
            "  explain_target: \(c.process.explainTarget.rawValue)",
            "  samples: \(opt(c.process.samples))",
            "  seed: \(c.process.seed)",
            "  threshold: \(c.process.threshold)",
            "  size: \(opt(c.process.shortSide))",
            "  batch: \(c.process.batch)",
            "  video: \(c.process.writeVideo)",
            "  heatmaps: \(c.process.writeHeatmaps)",
            "  heat_opacity: \(c.process.heatOpacity)",
            "  max_frame_pixels: \(c.process.maxFramePixels)",
            "thresholds:" + (c.process.thresholds.isEmpty ? " {}" : ""),
        ]
        for (label, p) in c.process.thresholds.sorted(by: { $0.key < $1.key }) { lines.append("  \(q(label)): \(p)") }
        lines += [
            "quiet_period: \(c.quietPeriod)",
            "threads: \(c.threads)",
            "workers: \(c.workers)",
            "max_attempts: \(c.maxAttempts)",
            "stall_timeout: \(c.stallTimeout)",
            "worker_memory_mb: \(opt(c.workerMemoryMB))",
            "min_free_gb: \(c.minFreeGB)",
            "rescan_interval: \(c.rescanInterval)",
            "retry_backoff: \(c.retryBackoff)",
            "retry_backoff_max: \(c.retryBackoffMax)",
            "retention:",
            "  max_age_days: \(opt(c.retention.maxAgeDays))",
            "  max_total_gb: \(opt(c.retention.maxTotalGB))",
            "  free_space_sweep: \(c.retention.freeSpaceSweep)",
            "http:",
            "  address: \(q(c.httpAddress))",
            "  idle_timeout: \(c.httpIdleTimeout)",
            "  max_connections: \(c.httpMaxConnections)",
            "log:",
            "  format: \(c.logFormat)",
            "  level: \(c.logLevel)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
