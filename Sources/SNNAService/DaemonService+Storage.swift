import Dispatch
import Foundation
import Logging

// The daemon's care of its disks: free space and the readiness it gates, the low-space sweep, retention, and the
// start-up check that every done job still has its outputs (docs/daemon.md, "Transient failures and free space").

extension DaemonService {
    // MARK: - Disk space and retention

    /// Reads free space on the output and state disks, updates the metric and the readiness reason; returns the
    /// reason when either is under `min_free_gb`.
    @discardableResult
    func updateFreeSpace() -> String? {
        var reason: String?
        for (disk, folder) in [("output", config.output), ("state", config.state)] {
            guard let free = DiskSpace.freeBytes(folder) else { continue }
            metrics.freeBytes[disk]?.record(Double(free))
            let needed = config.minFreeGB * 1e9
            if Double(free) < needed, reason == nil {
                reason = String(format: "only %.3f GB free on the %@ disk (%@), min_free_gb is %g", Double(free) / 1e9,
                                disk, folder, config.minFreeGB)
            }
        }
        let previous = lowSpace.withLock { value -> String? in
            let old = value
            value = reason
            return old
        }
        if let reason, previous == nil {
            logger.warning("low disk space: no new job starts until space returns", metadata: ["reason": "\(reason)"])
        } else if reason == nil, previous != nil {
            logger.notice("disk space is back: processing resumes")
        }
        return reason
    }

    /// As Frigate does when space runs out: delete the oldest outputs until free space is back above `min_free_gb`
    /// (one sweep at a time, in the background).
    func startSpaceSweep(store: JobStore) {
        guard config.retention.freeSpaceSweep, !sweeping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global().async { [self] in
            defer { sweeping.store(false, ordering: .releasing) }
            let needed = config.minFreeGB * 1e9
            let outputDisk = config.output
            do {
                let deleted = try sweeper(store: store).sweepOldest(while: {
                    Double(DiskSpace.freeBytes(outputDisk) ?? UInt64.max) < needed
                })
                for path in deleted { logger.warning("low disk space: deleted the oldest output", metadata: ["output": "\(path)"]) }
            } catch {
                logger.warning("low-space sweep failed", metadata: ["error": "\(error)"])
            }
            if updateFreeSpace() == nil { work.signal() }
        }
    }

    func sweeper(store: JobStore) -> RetentionSweeper {
        let r = config.retention
        let logger = self.logger
        return RetentionSweeper(
            outputRoot: config.output, maxAgeDays: r.maxAgeDays, maxTotalGB: r.maxTotalGB,
            isOurs: { (try? store.isDoneOutput($0)) ?? false },
            willDelete: { path in
                do { try store.markOutputsRemoved([path]) } catch {
                    logger.warning("retention: cannot record a deletion", metadata: ["output": "\(path)", "error": "\(error)"])
                }
            })
    }

    /// Deletes outputs beyond the configured age or total size (inputs are never deleted) and what dead runs left.
    func sweepRetention(store: JobStore) {
        let r = config.retention
        guard r.maxAgeDays != nil || r.maxTotalGB != nil else { return }
        do {
            let deleted = try sweeper(store: store).sweep()
            for path in deleted { logger.info("retention: deleted an old output", metadata: ["output": "\(path)"]) }
        } catch {
            logger.warning("retention sweep failed", metadata: ["error": "\(error)"])
        }
    }

    /// The invariant "a done job has its output folder": one whose folder vanished (without retention deleting it)
    /// is queued again, and said so, never silently lost.
    func checkDoneOutputs(store: JobStore) {
        do {
            for job in try store.doneWithOutputs() {
                guard let folder = job.outputFolder, let id = job.id else { continue }
                if FileManager.default.fileExists(atPath: folder) { continue }
                try store.requeueLostOutput(id)
                logger.warning("a done job's output folder is missing; queued again", metadata: ["file": "\(job.path)", "output": "\(folder)"])
                work.signal()
            }
        } catch {
            logger.warning("cannot check the done jobs' outputs", metadata: ["error": "\(error)"])
        }
    }
}
