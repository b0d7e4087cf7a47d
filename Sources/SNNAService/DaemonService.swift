import Dispatch
import Foundation
import Logging
import SNNAKernels
import SNNAModel
import SNNAPipeline
import Synchronization

/// `snna serve`: watches folders, queues complete files in the job store, and processes each exactly once with
/// `VideoProcessor`, as a systemd `Type=notify` service (issue #5).
public final class DaemonService: @unchecked Sendable {
    let configPath: String
    let logFormatOverride: String?
    let notifier = SystemdNotifier()
    private let stopping = Atomic<Bool>(false)
    private let reloadRequested = Atomic<Bool>(false)
    private let work = DispatchSemaphore(value: 0)
    private let settings: Mutex<ProcessSettings>
    private var logger: Logger
    private var config: ServiceConfig

    public init(configPath: String, logFormat: String?) throws {
        self.configPath = configPath
        logFormatOverride = logFormat
        var config = try ConfigLoader.load(path: configPath)
        if let logFormat { config.logFormat = logFormat }
        self.config = config
        settings = Mutex(config.process)
        let format = LineLogHandler.Format(rawValue: config.logFormat) ?? .text
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        logger = Logger(label: "snna") { LineLogHandler(label: $0, format: format, level: level) }
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() throws -> Int32 {
        let config = self.config
        if config.threads > 0 { Parallel.configure(threads: config.threads) }
        for folder in [config.output, config.state] {
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw ConfigError("cannot create '\(folder)': \((error as NSError).localizedDescription)")
            }
        }
        let model = try ModelFile.load(path: config.model)
        let engine = try ViTEngine(model: model)
        let store = try JobStore(folder: config.state)
        let recovered = try store.recoverInterrupted(maxAttempts: config.maxAttempts)
        for job in recovered.requeued { logger.warning("requeued an interrupted job", metadata: ["file": "\(job.path)", "attempts": "\(job.attempts)"]) }
        for job in recovered.failed { logger.error("gave up on a job interrupted too often", metadata: ["file": "\(job.path)", "attempts": "\(job.attempts)"]) }
        // Runs that died left hidden partial folders; no other process writes here, so they all go.
        OutputFolder.removeStalePartials(root: config.output)

        sweepRetention()
        try startHTTP(store: store)
        let signals = installSignalHandlers()
        let watcher = FolderWatcher(folders: config.watch, excluded: [config.output, config.state],
                                    quietPeriod: config.quietPeriod)
        try watcher.start { [self] file in self.enqueue(file, store: store) }
        rescan = { [self] in for file in watcher.scan() { self.enqueue(file, store: store) } }
        logger.info("ready", metadata: ["model": "\(config.model)", "watch": "\(config.watch.map(\.path))",
                                        "output": "\(config.output)", "workers": "\(config.workers)"])
        notifier.ready(status: "scanning the watch folders (\(try store.queueDepth()) queued)")
        // The first scan runs after READY, off the main thread: a large archive must not hold up the start.
        DispatchQueue.global().async { [self] in self.rescan?() }

        let done = DispatchGroup()
        for worker in 0..<config.workers {
            done.enter()
            let thread = Thread { [self] in
                self.workLoop(worker: worker, engine: engine, store: store)
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        // The main thread serves reloads and, while no file is in process, the watchdog (a busy worker pings it
        // from its own loop, so a hung worker stops the pings and systemd restarts the service). Pings only when
        // systemd asked for them (WatchdogSec).
        let watchdog = notifier.watchdogInterval
        var lastPing = Date.distantPast
        while !stopping.load(ordering: .acquiring) {
            if reloadRequested.exchange(false, ordering: .acquiringAndReleasing) { reload() }
            if let watchdog, busy.withLock({ $0 }) == 0, Date().timeIntervalSince(lastPing) >= watchdog / 3 {
                notifier.watchdog()
                lastPing = Date()
            }
            _ = done.wait(timeout: .now() + 0.5)
        }
        notifier.stopping()
        logger.info("stopping: finishing the current frame")
        for _ in 0..<config.workers { work.signal() }
        done.wait()
        watcher.stop()
        signals.forEach { $0.cancel() }
        httpTask?.cancel()
        logger.info("stopped")
        return 0
    }

    /// Workers with a file in process (each pings the watchdog itself; the main loop pings only when none is).
    private let busy = Mutex(0)
    /// A full scan of the watch folders (at start, and again on every reload).
    private var rescan: (() -> Void)?
    let metrics = ServiceMetrics()
    private let current = Mutex<[Int64: CurrentWork]>([:])
    private var httpTask: Task<Void, Error>?

    /// Serves the HTTP endpoints until the process ends (Hummingbird's own signal handling stays off: SIGTERM is ours).
    private func startHTTP(store: JobStore) throws {
        guard let address = HTTPAddress(config.httpAddress) else { throw ConfigError("'http.address' is invalid") }
        let output = config.output, state = config.state
        let endpoints = HTTPEndpoints(
            store: store, metrics: metrics,
            current: { [self] in self.current.withLock { Array($0.values).sorted { $0.job < $1.job } } },
            ready: {
                for folder in [output, state] where access(folder, W_OK) != 0 { return (false, "'\(folder)' is not writable") }
                return (true, "")
            })
        let listening = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let app = endpoints.application(address: address, onListening: { listening.signal() })
        let logger = self.logger
        httpTask = Task {
            do { try await app.run() } catch {
                failure.withLock { $0 = "\(error)" }
                logger.error("HTTP server stopped", metadata: ["address": "\(address.host):\(address.port)", "error": "\(error)"])
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

    private func workLoop(worker: Int, engine: ViTEngine, store: JobStore) {
        while !stopping.load(ordering: .acquiring) {
            _ = work.wait(timeout: .now() + 2)
            if stopping.load(ordering: .acquiring) { break }
            let job: Job
            do {
                guard let next = try store.claimNext() else { continue }
                job = next
            } catch {
                logger.error("job store error", metadata: ["error": "\(error)"])
                continue
            }
            work.signal()  // there may be more: let another worker look
            process(job, engine: engine, store: store)
        }
    }

    private func process(_ job: Job, engine: ViTEngine, store: JobStore) {
        guard let id = job.id else { return }
        let name = URL(fileURLWithPath: job.path).lastPathComponent
        guard FileManager.default.fileExists(atPath: job.path) else {
            try? store.markSkipped(id, reason: "the file was deleted before it was processed")
            logger.warning("skipped: file deleted", metadata: ["file": "\(job.path)"])
            return
        }
        let settings = self.settings.withLock { $0 }
        do {
            let processor = try VideoProcessor(engine: engine, settings: settings, quiet: true)
            processor.warn = { [logger] in logger.warning("\($0)", metadata: ["file": "\(job.path)"]) }
            processor.shouldStop = { [self] in self.stopping.load(ordering: .acquiring) }
            var lastStatus = Date.distantPast
            let watchdog = notifier.watchdogInterval
            current.withLock { $0[id] = CurrentWork(file: job.path, job: id, frames: 0, expected: nil, started: Date()) }
            defer { _ = current.withLock { $0.removeValue(forKey: id) } }
            processor.onProgress = { [self, notifier] frames, expected in
                self.current.withLock { $0[id]?.frames = frames; $0[id]?.expected = expected }
                // At most one STATUS a second, WATCHDOG only when systemd asked for it.
                guard Date().timeIntervalSince(lastStatus) >= 1 else { return }
                lastStatus = Date()
                notifier.status("processing \(name): frame \(frames)\(expected.map { " of \($0)" } ?? "")")
                if watchdog != nil { notifier.watchdog() }
            }
            busy.withLock { $0 += 1 }
            defer { busy.withLock { $0 -= 1 } }
            logger.info("processing", metadata: ["file": "\(job.path)", "job": "\(id)", "attempt": "\(job.attempts)"])
            // The stem alone could collide (dashcams reuse FILE0001.MP4 in every folder): add the content's hash.
            let outputName = VideoProcessor.outputName(for: job.path) + "-" + job.fingerprint.suffix(8)
            let result = try processor.process(input: job.path, outputRoot: config.output, outputName: outputName)
            try store.markDone(id, outputFolder: result.outputFolder)
            metrics.record(result.summary)
            logger.info("done", metadata: ["file": "\(job.path)", "output": "\(result.outputFolder)",
                                           "frames": "\(result.summary.counts.decoded)",
                                           "truncated": "\(result.summary.input.truncated)"])
            notifier.status("idle (\((try? store.queueDepth()) ?? 0) queued)")
            sweepRetention()
        } catch is PipelineCancelled {
            try? store.requeue(id)
            logger.info("interrupted by shutdown; the job stays queued", metadata: ["file": "\(job.path)"])
        } catch {
            if !FileManager.default.fileExists(atPath: job.path) {
                try? store.markSkipped(id, reason: "the file was deleted while it was processed")
                logger.warning("skipped: file deleted while processing", metadata: ["file": "\(job.path)"])
            } else {
                try? store.markFailed(id, error: "\(error)")
                metrics.recordError()
                logger.error("failed", metadata: ["file": "\(job.path)", "error": "\(error)"])
            }
        }
    }

    /// Deletes outputs beyond the configured age or total size (never inputs unless configured).
    func sweepRetention() {
        let r = config.retention
        guard r.maxAgeDays != nil || r.maxTotalGB != nil else { return }
        do {
            let deleted = try RetentionSweeper(outputRoot: config.output, maxAgeDays: r.maxAgeDays, maxTotalGB: r.maxTotalGB).sweep()
            for path in deleted { logger.info("retention: deleted an old output", metadata: ["output": "\(path)"]) }
        } catch {
            logger.warning("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

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
            if fresh.httpAddress != config.httpAddress { needRestart.append("http.address") }
            if fresh.logFormat != config.logFormat || fresh.logLevel != config.logLevel { needRestart.append("log") }
            if fresh.retention != config.retention { needRestart.append("retention") }
            if fresh.quietPeriod != config.quietPeriod { needRestart.append("quiet_period") }
            if fresh.maxAttempts != config.maxAttempts { needRestart.append("max_attempts") }
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
