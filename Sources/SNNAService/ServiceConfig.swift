import Foundation
import SNNAAttribution
import SNNAPipeline

/// The daemon's configuration (`/etc/snna/snna.yaml`, shipped as Config/snna.yaml). The processing part is the same
/// `ProcessSettings` that `snna process` builds from its flags, so a key means one thing everywhere.
public struct ServiceConfig: Sendable, Equatable {
    public struct WatchFolder: Sendable, Equatable {
        public var path: String
        public var recursive: Bool = true
        public var patterns: [String] = ServiceConfig.defaultPatterns
    }
    public struct Retention: Sendable, Equatable {
        /// Outputs older than this are deleted (nil: kept forever).
        public var maxAgeDays: Double?
        /// Oldest outputs are deleted while the total exceeds this (nil: no limit).
        public var maxTotalGB: Double?
        /// When free space falls under `min_free_gb`, delete the oldest outputs until it is back (as Frigate does).
        public var freeSpaceSweep = true
    }

    public static let defaultPath = "/etc/snna/snna.yaml"
    public static let defaultPatterns = ["*.mp4", "*.MP4", "*.mov", "*.MOV", "*.mkv", "*.ts", "*.TS", "*.avi", "*.AVI"]

    public var watch: [WatchFolder] = []
    public var output = "/var/lib/snna/out"
    public var state = "/var/lib/snna/state"
    public var model = ""
    public var process = ProcessSettings()
    /// A file is taken when closed after writing, or unchanged in size and mtime for this many seconds.
    public var quietPeriod: Double = 10
    /// Engine worker threads (0: every core).
    public var threads = 0
    /// Files processed at once, sharing one model.
    public var workers = 1
    /// A job whose worker died, hung or ran out of memory is redone at most this many times, then marked failed.
    public var maxAttempts = 3
    /// A worker that reports no progress for this many seconds is killed (its job retried).
    public var stallTimeout: Double = 300
    /// A worker using more memory than this (resident MB) is killed; its address space is capped at twice this plus
    /// 4 GB, so a runaway allocation fails inside the worker. nil: no limit.
    public var workerMemoryMB: Int? = 8192
    /// Below this much free space on the output or state disk no job starts, /readyz answers 503 and the oldest
    /// outputs are deleted (`retention.free_space_sweep`).
    public var minFreeGB: Double = 1
    /// Seconds between full rescans of the watch folders (catching what inotify missed). 0: never.
    public var rescanInterval: Double = 600
    /// A transient failure (full disk, too many open files, I/O error) retries after this many seconds, doubling
    /// each time up to `retryBackoffMax`; such failures never fail a job for good.
    public var retryBackoff: Double = 10
    public var retryBackoffMax: Double = 1800
    public var retention = Retention()
    public var httpAddress = "127.0.0.1:8736"
    /// Seconds an HTTP connection may stay idle before the server closes it.
    public var httpIdleTimeout: Double = 60
    /// Concurrent HTTP connections; more are refused.
    public var httpMaxConnections = 64
    public var logFormat = "text"
    public var logLevel = "info"

    public init() {}
}
