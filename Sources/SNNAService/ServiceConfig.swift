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
        /// Inputs are never deleted unless this is set.
        public var deleteInputs = false
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
    /// A job found running at start is redone at most this many times, then marked failed.
    public var maxAttempts = 3
    public var retention = Retention()
    public var httpAddress = "127.0.0.1:8736"
    public var logFormat = "text"
    public var logLevel = "info"

    public init() {}
}
