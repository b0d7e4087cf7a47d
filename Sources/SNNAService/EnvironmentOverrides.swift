import Yams

/// `SNNA_*` environment variables override configuration keys: the key path in upper case with `_` for `.`
/// (`SNNA_PROCESS_EXPLAIN_STRIDE` → `process.explain_stride`, `SNNA_HTTP_ADDRESS` → `http.address`);
/// `SNNA_WATCH` is a `:`-separated list of folders (recursive, default patterns). Unknown `SNNA_*` names are ignored.
public enum EnvironmentOverrides {
    /// Variable → key path, for every key that can be overridden.
    public static let keys: [String: [String]] = {
        var k: [String: [String]] = [:]
        for top in ["output", "state", "model", "quiet_period", "threads", "workers", "max_attempts", "stall_timeout",
                    "worker_memory_mb", "min_free_gb", "rescan_interval", "retry_backoff", "retry_backoff_max"] {
            k["SNNA_" + top.uppercased()] = [top]
        }
        for p in ["predict_stride", "explain_stride", "method", "explain_target", "samples", "seed", "threshold", "size",
                  "batch", "video", "heatmaps", "heat_opacity", "max_frame_pixels"] {
            k["SNNA_PROCESS_" + p.uppercased()] = ["process", p]
        }
        for r in ["max_age_days", "max_total_gb", "free_space_sweep"] { k["SNNA_RETENTION_" + r.uppercased()] = ["retention", r] }
        for h in ["address", "idle_timeout", "max_connections"] { k["SNNA_HTTP_" + h.uppercased()] = ["http", h] }
        k["SNNA_LOG_FORMAT"] = ["log", "format"]
        k["SNNA_LOG_LEVEL"] = ["log", "level"]
        return k
    }()

    static func apply(_ environment: [String: String], to config: inout ServiceConfig) throws {
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            if name == "SNNA_WATCH" {
                let paths = value.split(separator: ":").map(String.init).filter { !$0.isEmpty }
                guard !paths.isEmpty else { throw ConfigError("environment SNNA_WATCH: no folder given") }
                config.watch = paths.map { ServiceConfig.WatchFolder(path: $0) }
                continue
            }
            guard let path = keys[name] else { continue }
            // A one-key document, read by the same code as the file, so types are checked the same way.
            var node = Node(value)
            for key in path.reversed() { node = Node([(Node(key), node)]) }
            var reader = NodeReader(source: "environment \(name)")
            do {
                try reader.apply(node, to: &config)
            } catch let e as ConfigError {
                throw ConfigError(e.message.replacingOccurrences(of: "'\(path.joined(separator: "."))'", with: "(key '\(path.joined(separator: "."))')"))
            }
        }
    }
}
