import Foundation
import SNNAAttribution
import SNNAPipeline
import Yams

/// Reads the YAML configuration, then applies environment overrides (`SNNA_*`, see docs/daemon.md), then checks
/// every value. Each error names the key and its line, or the environment variable.
public enum ConfigLoader {
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ServiceConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read configuration '\(path)'")
        }
        return try parse(String(decoding: data, as: UTF8.self), source: path, environment: environment)
    }

    public static func parse(_ yaml: String, source: String, environment: [String: String] = [:]) throws -> ServiceConfig {
        var config = ServiceConfig()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            throw ConfigError("\(source): not valid YAML: \(yamlProblem(e))")
        }
        if let root {
            var reader = NodeReader(source: source)
            try reader.apply(root, to: &config)
        }
        try EnvironmentOverrides.apply(environment, to: &config)
        try validate(config, source: source)
        return config
    }

    static func yamlProblem(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _):
            return "\(problem) (line \(mark.line), column \(mark.column))"
        default:
            return "\(e)"
        }
    }

    static func validate(_ c: ServiceConfig, source: String) throws {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError("\(source): '\(key)': \(problem)") }
        if c.watch.isEmpty { throw fail("watch", "at least one watch folder is needed") }
        for (i, w) in c.watch.enumerated() where !w.path.hasPrefix("/") {
            throw fail("watch[\(i)].path", "'\(w.path)' must be an absolute path")
        }
        if c.model.isEmpty { throw fail("model", "the model file is required") }
        for (key, path) in [("output", c.output), ("state", c.state)] where !path.hasPrefix("/") {
            throw fail(key, "'\(path)' must be an absolute path")
        }
        try PathOverlap.check(c, source: source)
        for (label, p) in c.process.thresholds where !(p > 0 && p < 1) {
            throw fail("thresholds.\(label)", "must be between 0 and 1")
        }
        do { try c.process.validate() } catch { throw fail("process", "\(error)") }
        if c.workers < 1 || c.workers > 64 { throw fail("workers", "must be in 1…64") }
        if c.threads < 0 || c.threads > 1024 { throw fail("threads", "must be 0 (every core) or more") }
        if c.maxAttempts < 1 { throw fail("max_attempts", "must be at least 1") }
        if !(c.stallTimeout >= 5) { throw fail("stall_timeout", "must be at least 5 seconds") }
        if let mb = c.workerMemoryMB, mb < 256 { throw fail("worker_memory_mb", "must be at least 256 (or null: no limit)") }
        if !(c.minFreeGB >= 0) { throw fail("min_free_gb", "must be 0 or more") }
        if !(c.rescanInterval == 0 || c.rescanInterval >= 1) { throw fail("rescan_interval", "must be 0 (never) or at least 1 second") }
        if !(c.retryBackoff > 0) { throw fail("retry_backoff", "must be positive") }
        if !(c.retryBackoffMax >= c.retryBackoff) { throw fail("retry_backoff_max", "must be at least retry_backoff") }
        if !(c.httpIdleTimeout >= 1) { throw fail("http.idle_timeout", "must be at least 1 second") }
        if c.httpMaxConnections < 1 || c.httpMaxConnections > 10_000 { throw fail("http.max_connections", "must be in 1…10000") }
        if !(c.quietPeriod >= 0) { throw fail("quiet_period", "must be 0 or more seconds") }
        if let age = c.retention.maxAgeDays, !(age > 0) { throw fail("retention.max_age_days", "must be positive") }
        if let size = c.retention.maxTotalGB, !(size > 0) { throw fail("retention.max_total_gb", "must be positive") }
        if !["text", "json"].contains(c.logFormat) { throw fail("log.format", "must be text or json") }
        if !["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(c.logLevel) {
            throw fail("log.level", "must be trace, debug, info, notice, warning, error or critical")
        }
        if HTTPAddress(c.httpAddress) == nil { throw fail("http.address", "'\(c.httpAddress)' must look like 127.0.0.1:8736") }
    }
}

/// host:port.
public struct HTTPAddress: Sendable, Equatable {
    public let host: String
    public let port: Int
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port), colon > text.startIndex else { return nil }
        host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
    }
}

/// Walks the YAML node tree, so every error can name the key's line (Yams' decoder reports only key paths).
struct NodeReader {
    let source: String

    func fail(_ key: String, _ node: Node?, _ problem: String) -> ConfigError {
        let line = node?.mark.map { ", line \($0.line)" } ?? ""
        return ConfigError("\(source): '\(key)'\(line): \(problem)")
    }

    func mapping(_ node: Node, _ key: String) throws -> [(String, Node)] {
        guard case .mapping(let m) = node else { throw fail(key, node, "expected a mapping of keys") }
        return try m.map { k, v in
            guard let name = k.string else { throw fail(key, k, "keys must be strings") }
            return (name, v)
        }
    }

    func string(_ node: Node, _ key: String) throws -> String {
        guard case .scalar(let s) = node else { throw fail(key, node, "expected a text value") }
        return s.string
    }

    func isNull(_ node: Node) -> Bool {
        if case .scalar(let s) = node { return ["", "~", "null", "Null", "NULL"].contains(s.string) && s.style == .plain }
        return false
    }

    /// Decimal integers only (an optional sign, digits, `_` separators). Yams' own reading also takes YAML 1.1
    /// base-60 forms (`1:30`) and traps on an overflowing one, so the scalar's text is parsed here.
    func int(_ node: Node, _ key: String) throws -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string.replacingOccurrences(of: "_", with: "")),
              !s.string.isEmpty, s.string.allSatisfy({ $0.isASCII && ($0.isNumber || "+-_".contains($0)) }) else {
            throw fail(key, node, "expected an integer, got '\(node.string ?? "a list or mapping")'")
        }
        return v
    }

    /// Finite decimal numbers (`10`, `0.5`, `1e-3`); not base-60, not .inf or .nan.
    func double(_ node: Node, _ key: String) throws -> Double {
        guard case .scalar(let s) = node,
              s.string.allSatisfy({ $0.isASCII && ($0.isNumber || "+-._eE".contains($0)) }),
              let v = Double(s.string.replacingOccurrences(of: "_", with: "")), v.isFinite else {
            throw fail(key, node, "expected a number, got '\(node.string ?? "a list or mapping")'")
        }
        return v
    }

    func bool(_ node: Node, _ key: String) throws -> Bool {
        guard let v = node.bool else { throw fail(key, node, "expected true or false, got '\(node.string ?? "a list or mapping")'") }
        return v
    }

    func strings(_ node: Node, _ key: String) throws -> [String] {
        if case .scalar = node { return [try string(node, key)] }
        guard case .sequence(let seq) = node else { throw fail(key, node, "expected a list") }
        return try seq.enumerated().map { try string($1, "\(key)[\($0)]") }
    }

    mutating func apply(_ root: Node, to c: inout ServiceConfig) throws {
        for (key, node) in try mapping(root, "(top level)") {
            switch key {
            case "watch": c.watch = try watchFolders(node)
            case "output": c.output = try string(node, key)
            case "state": c.state = try string(node, key)
            case "model": c.model = try string(node, key)
            case "process": try process(node, &c)
            case "thresholds":
                for (label, v) in try mapping(node, key) { c.process.thresholds[label] = Float(try double(v, "thresholds.\(label)")) }
            case "quiet_period": c.quietPeriod = try double(node, key)
            case "threads": c.threads = try int(node, key)
            case "workers": c.workers = try int(node, key)
            case "max_attempts": c.maxAttempts = try int(node, key)
            case "stall_timeout": c.stallTimeout = try double(node, key)
            case "worker_memory_mb": c.workerMemoryMB = isNull(node) ? nil : try int(node, key)
            case "min_free_gb": c.minFreeGB = try double(node, key)
            case "rescan_interval": c.rescanInterval = try double(node, key)
            case "retry_backoff": c.retryBackoff = try double(node, key)
            case "retry_backoff_max": c.retryBackoffMax = try double(node, key)
            case "retention":
                for (k, v) in try mapping(node, key) {
                    let full = "retention.\(k)"
                    switch k {
                    case "max_age_days": c.retention.maxAgeDays = isNull(v) ? nil : try double(v, full)
                    case "max_total_gb": c.retention.maxTotalGB = isNull(v) ? nil : try double(v, full)
                    case "free_space_sweep": c.retention.freeSpaceSweep = try bool(v, full)
                    case "delete_inputs":
                        throw fail(full, v, "was removed: snna never deletes inputs (see docs/daemon.md, Retention)")
                    default: throw fail(full, v, "unknown key")
                    }
                }
            case "http":
                for (k, v) in try mapping(node, key) {
                    switch k {
                    case "address": c.httpAddress = try string(v, "http.address")
                    case "idle_timeout": c.httpIdleTimeout = try double(v, "http.idle_timeout")
                    case "max_connections": c.httpMaxConnections = try int(v, "http.max_connections")
                    default: throw fail("http.\(k)", v, "unknown key")
                    }
                }
            case "log":
                for (k, v) in try mapping(node, key) {
                    switch k {
                    case "format": c.logFormat = try string(v, "log.format")
                    case "level": c.logLevel = try string(v, "log.level")
                    default: throw fail("log.\(k)", v, "unknown key")
                    }
                }
            default:
                throw fail(key, node, "unknown key")
            }
        }
    }

    func watchFolders(_ node: Node) throws -> [ServiceConfig.WatchFolder] {
        guard case .sequence(let seq) = node else { throw fail("watch", node, "expected a list of folders") }
        return try seq.enumerated().map { i, item in
            let key = "watch[\(i)]"
            if case .scalar = item { return ServiceConfig.WatchFolder(path: try string(item, key)) }
            var folder = ServiceConfig.WatchFolder(path: "")
            for (k, v) in try mapping(item, key) {
                switch k {
                case "path": folder.path = try string(v, "\(key).path")
                case "recursive": folder.recursive = try bool(v, "\(key).recursive")
                case "patterns": folder.patterns = try strings(v, "\(key).patterns")
                default: throw fail("\(key).\(k)", v, "unknown key")
                }
            }
            if folder.path.isEmpty { throw fail("\(key).path", item, "is required") }
            return folder
        }
    }

    func process(_ node: Node, _ c: inout ServiceConfig) throws {
        for (k, v) in try mapping(node, "process") {
            let key = "process.\(k)"
            switch k {
            case "predict_stride": c.process.predictStride = try int(v, key)
            case "explain_stride": c.process.explainStride = try int(v, key)
            case "method":
                let name = try string(v, key)
                guard let m = ExplanationMethod(name: name) else { throw fail(key, v, "unknown method '\(name)'") }
                c.process.method = m
            case "explain_target":
                let name = try string(v, key)
                guard let t = ExplainTarget(rawValue: name) else { throw fail(key, v, "must be argmax or active") }
                c.process.explainTarget = t
            case "samples": c.process.samples = isNull(v) ? nil : try int(v, key)
            case "seed": c.process.seed = UInt64(max(0, try int(v, key)))
            case "threshold": c.process.threshold = Float(try double(v, key))
            case "size": c.process.shortSide = isNull(v) ? nil : try int(v, key)
            case "batch": c.process.batch = try int(v, key)
            case "video": c.process.writeVideo = try bool(v, key)
            case "heatmaps": c.process.writeHeatmaps = try bool(v, key)
            case "heat_opacity": c.process.heatOpacity = Float(try double(v, key))
            case "max_frame_pixels": c.process.maxFramePixels = try int(v, key)
            default: throw fail(key, v, "unknown key")
            }
        }
    }
}
