import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import SNNAModel
import SNNAPipeline
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `snna serve`: watches folders, queues complete files in the job store, and processes each exactly once, every
/// job in its own worker process (`snna worker`, see `JobWorker`), as a systemd `Type=notify` service (issues 5, 14).
///
/// This process never runs the pipeline itself: a hostile file can kill a worker, never the daemon, its HTTP
/// endpoints or the other jobs (docs/reliability.md).
public final class DaemonService: @unchecked Sendable {
    let configPath: String
    let logFormatOverride: String?
    let notifier = SystemdNotifier()
    let stopping = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)
    let work = DispatchSemaphore(value: 0)
    private let settings: Mutex<ProcessSettings>
    var logger: Logger
    var config: ServiceConfig
    let metrics = ServiceMetrics()
    /// Jobs in process, by job id (what /status shows, and what the watchdog checks).
    private let current = Mutex<[Int64: CurrentWork]>([:])
    /// Why no new job may start right now (free space under `min_free_gb`), nil when all is well.
    let lowSpace = Mutex<String?>(nil)
    let sweeping = Atomic<Bool>(false)
    private var httpTask: Task<Void, Error>?
    private var httpGroup: ServiceGroup?
    /// A full scan of the watch folders (at start and on every reload; the watcher rescans periodically itself).
    private var rescan: (() -> Void)?
    /// Set when the watcher can no longer see (its thread died): the daemon exits non-zero so systemd restarts it.
    private let blind = Mutex<String?>(nil)

    public init(configPath: String, logFormat: String?) throws {
        self.configPath = configPath
        logFormatOverride = logFormat
        var config = try ConfigLoader.load(path: configPath)
        if let logFormat { config.logFormat = logFormat }
        self.config = config
        settings = Mutex(config.process)
        let format = LineLogHandler.Format(rawValue: config.logFormat) ?? .text
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        // Every logger of the process — Hummingbird's and ServiceLifecycle's too — writes through the same handler,
        // so journald gets one format and one level.
        Self.bootstrapLogging(format: format, level: level)
        logger = Logger(label: "snna") { LineLogHandler(label: $0, format: format, level: level) }
    }

    private static let loggingBootstrapped = Atomic<Bool>(false)

    /// swift-log's process-wide handler (once per process; a second daemon in the same process keeps the first's).
    static func bootstrapLogging(format: LineLogHandler.Format, level: Logger.Level) {
        guard !loggingBootstrapped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: format, level: level) }
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() throws -> Int32 {
        let config = self.config
        // Workers inherit this: without Swift's crash handler a trap or a fault ends the worker at once with its
        // signal (the runtime still prints "Fatal error: …" first), instead of a handler that symbolicates for
        // seconds or, for a signal sent from outside, returns and lets the worker run on. Set it to get backtraces.
        setenv("SWIFT_BACKTRACE", "enable=no", 0)
        for folder in [config.output, config.state] {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw ConfigError("cannot create '\(folder)': \((error as NSError).localizedDescription)")
            }
        }
        // Fail the start, not every job, on a bad model; the workers load it themselves.
        let model = try ModelFile.load(path: config.model)
        logger.info("model checked", metadata: ["model": "\(config.model)", "labels": "\(model.config.labels)"])
        let store = try JobStore(folder: config.state)
        let recovered = try store.recoverInterrupted(maxAttempts: config.maxAttempts)
        for job in recovered.requeued { logger.warning("requeued an interrupted job", metadata: ["file": "\(job.path)", "attempts": "\(job.attempts)"]) }
        for job in recovered.failed { logger.error("gave up on a job interrupted too often", metadata: ["file": "\(job.path)", "attempts": "\(job.attempts)"]) }
        // No worker runs yet: every partial folder is a dead run's (none can belong to a done job, see commit order).
        for path in sweeper(store: store).reclaimLeftovers() {
            logger.info("removed a dead run's leftover", metadata: ["path": "\(path)"])
        }
        updateFreeSpace()
        try startHTTP(store: store)
        let signals = installSignalHandlers()
        // The watcher rescans every rescan_interval by itself (catching what inotify missed), re-watches roots
        // that come back, and reports what it cannot watch; if its thread dies the daemon exits non-zero.
        let watcher = FolderWatcher(folders: config.watch, excluded: [config.output, config.state],
                                    quietPeriod: config.quietPeriod, rescanInterval: config.rescanInterval)
        let logger = self.logger
        try watcher.start(
            ready: { [self] file in self.enqueue(file, store: store) },
            onProblem: { problem in
                var metadata: Logger.Metadata = ["kind": "\(problem.kind.rawValue)"]
                if let folder = problem.folder { metadata["folder"] = "\(folder)" }
                if problem.isRecovery { logger.info("\(problem.message)", metadata: metadata) }
                else { logger.warning("\(problem.message)", metadata: metadata) }
            },
            onFatal: { [self] message in
                self.blind.withLock { $0 = message }
            })
        metrics.watcherCounters = { watcher.counters }
        rescan = { [self] in for file in watcher.scan() { self.enqueue(file, store: store) } }
        logger.info("ready", metadata: ["model": "\(config.model)", "watch": "\(config.watch.map(\.path))",
                                        "output": "\(config.output)", "workers": "\(config.workers)"])
        notifier.ready(status: "scanning the watch folders (\(try store.queueDepth()) queued)")
        // Start-up work that can be long runs after READY, off the main thread: a large archive must not hold up
        // the start (systemd's start timeout).
        DispatchQueue.global().async { [self] in
            self.checkDoneOutputs(store: store)
            self.sweepRetention(store: store)
            self.rescan?()
        }

        let done = DispatchGroup()
        for slot in 0..<config.workers {
            done.enter()
            let thread = Thread { [self] in
                self.workLoop(slot: slot, store: store)
                done.leave()
            }
            thread.start()
        }
        // The main thread serves reloads, the free-space check, periodic rescans and retention, and the watchdog:
        // WATCHDOG=1 only while every busy worker has made progress within stall_timeout (plus the time to kill it),
        // so one hung worker is never hidden by a busy one, and a supervisor that failed to kill it gets restarted.
        let watchdog = notifier.watchdogInterval
        var lastPing = Date.distantPast
        var lastSpaceCheck = Date(), lastRetention = Date()
        while !stopping.load(ordering: .acquiring) {
            if let reason = blind.withLock({ $0 }) {
                logger.critical("the folder watcher stopped; exiting so that systemd restarts the service", metadata: ["reason": "\(reason)"])
                stopping.store(true, ordering: .releasing)
                break
            }
            if reloadRequested.exchange(false, ordering: .acquiringAndReleasing) { reload() }
            let now = Date()
            if now.timeIntervalSince(lastSpaceCheck) >= 5 {
                lastSpaceCheck = now
                if updateFreeSpace() != nil { startSpaceSweep(store: store) } else { work.signal() }
            }
            if now.timeIntervalSince(lastRetention) >= 600 {
                lastRetention = now
                DispatchQueue.global().async { [self] in self.sweepRetention(store: store) }
            }
            if let watchdog, workersProgressing(), now.timeIntervalSince(lastPing) >= watchdog / 3 {
                notifier.watchdog()
                lastPing = now
            }
            _ = done.wait(timeout: .now() + 0.5)
        }
        let exitStatus: Int32 = blind.withLock { $0 } == nil ? 0 : 1
        notifier.stopping()
        logger.info("stopping: workers finish their current frame")
        for _ in 0..<config.workers { work.signal() }
        done.wait()
        watcher.stop()
        signals.forEach { $0.cancel() }
        stopHTTP()
        logger.info("stopped")
        return exitStatus
    }

    /// Whether every job in process has reported progress recently enough (the watchdog's condition).
    func workersProgressing(now: Date = Date()) -> Bool {
        let progress = current.withLock { $0.values.map(\.lastProgress) }
        return WatchdogPolicy.mayPing(lastProgress: progress, now: now, stallTimeout: config.stallTimeout)
    }

    /// Stops the HTTP server gracefully (at most 5 s for open requests, then cancelled).
    private func stopHTTP() {
        guard let group = httpGroup, let task = httpTask else { return }
        let finished = DispatchSemaphore(value: 0)
        Task {
            await group.triggerGracefulShutdown()
            _ = await task.result
            finished.signal()
        }
        if finished.wait(timeout: .now() + 5) == .timedOut { task.cancel() }
    }

    /// Serves the HTTP endpoints until the process ends (Hummingbird's own signal handling stays off: SIGTERM is ours).
    private func startHTTP(store: JobStore) throws {
        guard let address = HTTPAddress(config.httpAddress) else { throw ConfigError("'http.address' is invalid") }
        let output = config.output, state = config.state
        let endpoints = HTTPEndpoints(
            store: store, metrics: metrics,
            current: { [self] in self.current.withLock { Array($0.values).sorted { $0.job < $1.job } } },
            ready: { [self] in
                for folder in [output, state] where access(folder, W_OK) != 0 { return (false, "'\(folder)' is not writable") }
                if let reason = self.lowSpace.withLock({ $0 }) { return (false, reason) }
                if let reason = self.blind.withLock({ $0 }) { return (false, "the folder watcher stopped: \(reason)") }
                return (true, "")
            })
        let listening = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let app = endpoints.application(address: address, idleTimeout: .milliseconds(Int64(config.httpIdleTimeout * 1000)),
                                          maxConnections: config.httpMaxConnections, onListening: { listening.signal() })
        let logger = self.logger
        let stopping = { [self] in self.stopping.load(ordering: .acquiring) }
        // Run as a ServiceLifecycle service, so shutdown is a graceful stop (connections drained, no cancellation
        // errors in the log); SIGTERM stays the daemon's own (no signals handled by the group).
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: logger))
        httpGroup = group
        httpTask = Task {
            do { try await group.run() } catch {
                failure.withLock { $0 = "\(error)" }
                // Cancelled at shutdown: not an error worth an operator's attention.
                if stopping() || error is CancellationError {
                    logger.debug("HTTP server stopped", metadata: ["reason": "\(error)"])
                } else {
                    logger.error("HTTP server stopped", metadata: ["address": "\(address.host):\(address.port)", "error": "\(error)"])
                }
                listening.signal()
            }
        }
        // READY only once the endpoints answer: a port in use is a start failure, not a silent degradation.
        guard listening.wait(timeout: .now() + 15) == .success, failure.withLock({ $0 }) == nil else {
            throw PipelineError("cannot serve HTTP on \(config.httpAddress): \(failure.withLock { $0 } ?? "timed out")")
        }
    }

    func enqueue(_ file: CandidateFile, store: JobStore) {
        do {
            // Already done as this very file: no need to read it again for a fingerprint.
            if try store.isDone(path: file.path, size: file.size, mtime: file.mtime) { return }
            let fingerprint = try Fingerprint.of(path: file.path)
            if let job = try store.enqueue(path: file.path, size: file.size, mtime: file.mtime, fingerprint: fingerprint) {
                logger.info("queued", metadata: ["file": "\(job.path)", "job": "\(job.id ?? -1)"])
                work.signal()
            }
        } catch {
            logger.warning("cannot queue a file", metadata: ["file": "\(file.path)", "error": "\(error)"])
        }
    }

    // MARK: - Workers

    private func workLoop(slot: Int, store: JobStore) {
        while !stopping.load(ordering: .acquiring) {
            _ = work.wait(timeout: .now() + 2)
            if stopping.load(ordering: .acquiring) { break }
            // No new job on a nearly full disk: it would only fail (the space check starts a sweep meanwhile).
            if updateFreeSpace() != nil { continue }
            let job: Job
            do {
                guard let next = try store.claimNext() else { continue }
                job = next
            } catch {
                logger.error("job store error", metadata: ["error": "\(error)"])
                continue
            }
            work.signal()  // there may be more: let another worker look
            process(job, store: store)
        }
    }

    private func process(_ job: Job, store: JobStore) {
        guard let id = job.id else { return }
        let name = URL(fileURLWithPath: job.path).lastPathComponent
        guard FileManager.default.fileExists(atPath: job.path) else {
            try? store.markSkipped(id, reason: "the file was deleted before it was processed")
            logger.warning("skipped: file deleted", metadata: ["file": "\(job.path)"])
            return
        }
        let settings = self.settings.withLock { $0 }
        let memoryLimit = config.workerMemoryMB.map { UInt64($0) << 20 }
        let request = WorkerRequest(
            job: id, input: job.path, outputRoot: config.output,
            // The stem alone could collide (dashcams reuse FILE0001.MP4 in every folder): add 64 bits of the hash.
            outputName: VideoProcessor.outputName(for: job.path, suffix: "-" + Fingerprint.shortID(job.fingerprint)),
            identity: job.fingerprint, model: config.model, settings: settings, threads: config.threads,
            addressSpaceLimit: memoryLimit.map { $0 * 2 + (4 << 30) }, parent: getpid())
        let worker = WorkerProcess(request: request, stallTimeout: config.stallTimeout, memoryLimitBytes: memoryLimit)
        var lastStatus = Date.distantPast
        current.withLock {
            $0[id] = CurrentWork(file: job.path, job: id, frames: 0, expected: nil, started: Date(), lastProgress: Date())
        }
        defer { _ = current.withLock { $0.removeValue(forKey: id) } }
        worker.onProgress = { [self, notifier] frames, expected in
            self.current.withLock { $0[id]?.frames = frames; $0[id]?.expected = expected; $0[id]?.lastProgress = Date() }
            // At most one STATUS a second.
            guard Date().timeIntervalSince(lastStatus) >= 1 else { return }
            lastStatus = Date()
            notifier.status("processing \(name): frame \(frames)\(expected.map { " of \($0)" } ?? "")")
        }
        worker.onWarning = { [logger] in logger.warning("\($0)", metadata: ["file": "\(job.path)"]) }
        worker.onSpawn = { [self, logger] pid in
            self.current.withLock { $0[id]?.worker = pid }
            logger.info("processing", metadata: ["file": "\(job.path)", "job": "\(id)", "attempt": "\(job.attempts)",
                                                 "worker_pid": "\(pid)"])
        }
        worker.shouldStop = { [self] in self.stopping.load(ordering: .acquiring) }
        let outcome = worker.run()
        switch outcome {
        case .done(let folder, let summary):
            commitDone(id, folder: folder, store: store)
            metrics.record(summary)
            logger.info("done", metadata: ["file": "\(job.path)", "output": "\(folder)",
                                           "frames": "\(summary.counts.decoded)", "truncated": "\(summary.input.truncated)"])
            notifier.status("idle (\((try? store.queueDepth()) ?? 0) queued)")
        case .cancelled:
            try? store.requeue(id)
            logger.info("interrupted by shutdown; the job stays queued", metadata: ["file": "\(job.path)"])
        case .failed(let reason, let transient) where transient:
            deferTransient(job, reason: reason, store: store)
        case .notStarted(let reason):
            deferTransient(job, reason: reason, store: store)
        case .failed(let reason, _):
            if !FileManager.default.fileExists(atPath: job.path) {
                try? store.markSkipped(id, reason: "the file was deleted while it was processed")
                logger.warning("skipped: file deleted while processing", metadata: ["file": "\(job.path)"])
            } else {
                try? store.markFailed(id, error: reason)
                metrics.recordError()
                logger.error("failed", metadata: ["file": "\(job.path)", "error": "\(reason)"])
            }
        case .crashed(let reason):
            metrics.recordCrash()
            let state = (try? store.endCrashedRun(id, reason: reason, maxAttempts: config.maxAttempts)) ?? .running
            if state == .failed { metrics.recordError() }
            logger.error(state == .failed ? "failed: the worker crashed on every attempt" : "the worker crashed; the job will be retried",
                         metadata: ["file": "\(job.path)", "reason": "\(reason)", "attempt": "\(job.attempts)",
                                    "max_attempts": "\(config.maxAttempts)"])
        }
        sweepRetention(store: store)
    }

    /// The outputs are durable; now the job is. A store that cannot be written (its disk full) is retried until it
    /// can: giving up would leave the job `running`, redone after the next start.
    private func commitDone(_ id: Int64, folder: String, store: JobStore) {
        var delay = 1.0
        while true {
            do { try store.markDone(id, outputFolder: folder); return } catch {
                logger.error("cannot record a finished job; retrying", metadata: ["job": "\(id)", "error": "\(error)"])
                if stopping.load(ordering: .acquiring) { return }
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 60)
            }
        }
    }

    private func deferTransient(_ job: Job, reason: String, store: JobStore) {
        guard let id = job.id else { return }
        let delay = TransientFailure.backoff(retry: job.retries + 1, base: config.retryBackoff, maximum: config.retryBackoffMax)
        metrics.recordTransient()
        do {
            try store.deferTransient(id, reason: reason, delay: delay)
            logger.warning("transient failure; the job will be retried", metadata: [
                "file": "\(job.path)", "reason": "\(reason)", "retry_in_seconds": "\(Int(delay))", "retries": "\(job.retries + 1)"])
        } catch {
            // The store's own disk may be the full one: the job stays running and is requeued at the next start.
            logger.error("cannot defer a job after a transient failure", metadata: ["file": "\(job.path)", "error": "\(error)"])
        }
        updateFreeSpace()
    }

    // MARK: - Signals and reload

    /// SIGHUP: re-read the file; processing settings apply to the next job, other keys need a restart.
    private func reload() {
        notifier.reloading()
        do {
            var fresh = try ConfigLoader.load(path: configPath)
            if let f = logFormatOverride { fresh.logFormat = f }
            settings.withLock { $0 = fresh.process }
            var needRestart: [String] = []
            if fresh.watch != config.watch { needRestart.append("watch") }
            if fresh.output != config.output { needRestart.append("output") }
            if fresh.state != config.state { needRestart.append("state") }
            if fresh.model != config.model { needRestart.append("model") }
            if fresh.workers != config.workers { needRestart.append("workers") }
            if fresh.threads != config.threads { needRestart.append("threads") }
            if fresh.httpAddress != config.httpAddress || fresh.httpIdleTimeout != config.httpIdleTimeout
                || fresh.httpMaxConnections != config.httpMaxConnections { needRestart.append("http") }
            if fresh.logFormat != config.logFormat || fresh.logLevel != config.logLevel { needRestart.append("log") }
            if fresh.retention != config.retention { needRestart.append("retention") }
            if fresh.quietPeriod != config.quietPeriod { needRestart.append("quiet_period") }
            if fresh.maxAttempts != config.maxAttempts { needRestart.append("max_attempts") }
            if fresh.stallTimeout != config.stallTimeout { needRestart.append("stall_timeout") }
            if fresh.workerMemoryMB != config.workerMemoryMB { needRestart.append("worker_memory_mb") }
            if fresh.minFreeGB != config.minFreeGB { needRestart.append("min_free_gb") }
            if fresh.rescanInterval != config.rescanInterval { needRestart.append("rescan_interval") }
            if fresh.retryBackoff != config.retryBackoff || fresh.retryBackoffMax != config.retryBackoffMax {
                needRestart.append("retry_backoff")
            }
            DispatchQueue.global().async { [self] in self.rescan?() }
            logger.info("configuration reloaded", metadata: [
                "applied": "process, thresholds",
                "need_restart": "\(needRestart.isEmpty ? "none" : needRestart.joined(separator: ", "))",
            ])
        } catch {
            logger.error("reload failed; keeping the previous configuration", metadata: ["error": "\(error)"])
        }
        notifier.notify("READY=1")
    }

    private func installSignalHandlers() -> [DispatchSourceSignal] {
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                if sig == SIGHUP {
                    reloadRequested.store(true, ordering: .releasing)
                } else {
                    stopping.store(true, ordering: .releasing)
                    work.signal()
                }
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}
