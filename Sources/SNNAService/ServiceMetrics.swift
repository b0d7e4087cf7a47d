import Foundation
import SNNAPipeline
import Prometheus
import Synchronization

/// The daemon's Prometheus metrics (`/metrics`): files by state and queue depth (read from the job store at each
/// scrape), frames decoded/predicted/explained, per-stage seconds per frame, and the time of the last error.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let framesDecoded: Counter
    let framesPredicted: Counter
    let framesExplained: Counter
    let lastErrorTime: Gauge
    let queueDepth: Gauge
    let files: [JobState: Gauge]
    let stageSeconds: [String: DurationHistogram]
    let workerCrashes: Counter
    let transientFailures: Counter
    /// Free bytes on the output and state disks (`disk` label), refreshed every few seconds.
    let freeBytes: [String: Gauge]
    let watchFailures: Counter, watchOverflows: Counter, filesFoundByRescan: Counter
    let unwatchedFolders: Gauge, missingWatchRoots: Gauge
    /// The watcher's counters, read at each scrape (set once the watcher runs).
    var watcherCounters: (@Sendable () -> WatcherCounters)? {
        get { watcherState.withLock { $0.read } }
        set { watcherState.withLock { $0.read = newValue } }
    }
    private let watcherState = Mutex<(read: (@Sendable () -> WatcherCounters)?, exported: WatcherCounters)>((nil, WatcherCounters()))

    static let stages = ["decode", "prepare", "predict", "explain", "overlay", "encode"]

    init() {
        framesDecoded = registry.makeCounter(name: "snna_frames_decoded_total", help: "Frames decoded")
        framesPredicted = registry.makeCounter(name: "snna_frames_predicted_total", help: "Frames predicted")
        framesExplained = registry.makeCounter(name: "snna_frames_explained_total", help: "Frames explained")
        lastErrorTime = registry.makeGauge(name: "snna_last_error_timestamp_seconds", help: "Unix time of the last failed job")
        queueDepth = registry.makeGauge(name: "snna_queue_depth", help: "Jobs waiting")
        workerCrashes = registry.makeCounter(name: "snna_worker_crashes_total",
                                             help: "Worker processes that died by a signal, hung or exceeded their memory limit")
        transientFailures = registry.makeCounter(name: "snna_transient_failures_total",
                                                 help: "Jobs deferred after a transient failure (full disk, too many open files, I/O error)")
        var free: [String: Gauge] = [:]
        for disk in ["output", "state"] {
            free[disk] = registry.makeGauge(name: "snna_free_bytes", labels: [("disk", disk)],
                                            help: "Free bytes on the output and state disks")
        }
        freeBytes = free
        watchFailures = registry.makeCounter(name: "snna_watch_failures_total",
                                             help: "inotify_add_watch failures (e.g. fs.inotify.max_user_watches); those folders are rescanned")
        watchOverflows = registry.makeCounter(name: "snna_watch_overflows_total", help: "inotify event queue overflows")
        filesFoundByRescan = registry.makeCounter(name: "snna_files_found_by_rescan_total",
                                                  help: "Complete files that only a rescan found (inotify missed them)")
        unwatchedFolders = registry.makeGauge(name: "snna_unwatched_folders", help: "Folders under the watch roots without an inotify watch now")
        missingWatchRoots = registry.makeGauge(name: "snna_missing_watch_roots", help: "Watch roots that do not exist or are unmounted now")
        var files: [JobState: Gauge] = [:]
        for state in JobState.allCases {
            files[state] = registry.makeGauge(name: "snna_files", labels: [("state", state.rawValue)], help: "Files by job state")
        }
        self.files = files
        let buckets: [Duration] = [.milliseconds(1), .milliseconds(10), .milliseconds(100), .milliseconds(500), .seconds(1),
                                   .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60)]
        var stages: [String: DurationHistogram] = [:]
        for stage in Self.stages {
            stages[stage] = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(metricName: "snna_stage_per_frame", unitName: "seconds",
                                                 helpText: "Seconds per frame of each pipeline stage, one sample per file"),
                labels: [("stage", stage)], buckets: buckets)
        }
        stageSeconds = stages
    }

    func refresh(from store: JobStore) {
        refreshWatcher()
        if let counts = try? store.counts() {
            for (state, gauge) in files { gauge.set(Double(counts[state] ?? 0)) }
        }
        if let depth = try? store.queueDepth() { queueDepth.set(Double(depth)) }
    }

    func record(_ summary: RunSummary) {
        framesDecoded.increment(by: Int64(summary.counts.decoded))
        framesPredicted.increment(by: Int64(summary.counts.predicted))
        framesExplained.increment(by: Int64(summary.counts.explained))
        for stage in summary.speed.stages where stage.frames_per_second > 0 {
            stageSeconds[stage.name]?.record(.nanoseconds(Int64(1e9 / stage.frames_per_second)))
        }
    }

    /// Prometheus counters only go up: add what the watcher counted since the last scrape.
    private func refreshWatcher() {
        watcherState.withLock { state in
            guard let read = state.read else { return }
            let now = read(), before = state.exported
            if now.watchFailures > before.watchFailures { watchFailures.increment(by: Int64(now.watchFailures - before.watchFailures)) }
            if now.overflows > before.overflows { watchOverflows.increment(by: Int64(now.overflows - before.overflows)) }
            if now.filesFoundByRescan > before.filesFoundByRescan {
                filesFoundByRescan.increment(by: Int64(now.filesFoundByRescan - before.filesFoundByRescan))
            }
            unwatchedFolders.set(Double(now.unwatchedFolders))
            missingWatchRoots.set(Double(now.missingRoots))
            state.exported = now
        }
    }

    func recordError() { lastErrorTime.set(Date().timeIntervalSince1970) }
    func recordCrash() { workerCrashes.increment() }
    func recordTransient() { transientFailures.increment() }
}
