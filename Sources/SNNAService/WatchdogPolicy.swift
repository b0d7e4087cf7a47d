import Foundation

/// When the daemon may tell systemd it is alive (`WATCHDOG=1`): only while every busy worker has reported progress
/// within `stall_timeout` plus a grace for the supervisor to kill it. A busy worker never hides a hung one (the check
/// is over all of them, not "any"), and a hung worker the supervisor failed to kill stops the pings, so systemd
/// restarts the service. A shorter window would restart the whole daemon for a single hung file, which the stall
/// kill handles without touching the other jobs.
enum WatchdogPolicy {
    static let killGrace: Double = 30

    static func mayPing(lastProgress: [Date], now: Date, stallTimeout: Double) -> Bool {
        lastProgress.allSatisfy { now.timeIntervalSince($0) < stallTimeout + killGrace }
    }
}
