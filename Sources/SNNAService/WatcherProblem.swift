/// Something the folder watcher wants its owner to know (for the log): a folder it cannot watch, a watch root that
/// went away or came back, events the kernel dropped. None of these stops the watcher: what inotify cannot see, the
/// periodic rescan and the root poll pick up.
public struct WatcherProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// `inotify_add_watch` failed on a folder (ENOSPC: `fs.inotify.max_user_watches` reached; EACCES; ENOMEM).
        /// Reported once per folder until a later attempt (at each rescan) succeeds.
        case watchFailed = "watch_failed"
        /// A folder whose watch had failed is watched now.
        case watchRestored = "watch_restored"
        /// A watch root was deleted or moved away (polled for until it comes back), or its file system was unmounted
        /// (the mount point left behind is watched, and polled for a file system mounted there again).
        case rootGone = "root_gone"
        /// A watch root exists again (re-created, moved back, mounted, or replaced by another folder) and is watched.
        case rootBack = "root_back"
        /// The kernel's event queue overflowed (`fs.inotify.max_queued_events`): events were lost, every watch
        /// folder was rescanned.
        case eventsOverflowed = "events_overflowed"
    }

    public var kind: Kind
    /// The folder concerned; nil for a queue overflow, which concerns every folder.
    public var folder: String?
    /// The errno of the failed call (watchFailed only).
    public var errorNumber: Int32?
    /// One line for the log, naming the folder and, for a failure, strerror.
    public var message: String

    /// True for the good news (watchRestored, rootBack), which an owner logs at a lower level.
    public var isRecovery: Bool { kind == .watchRestored || kind == .rootBack }

    public var description: String { message }

    public init(kind: Kind, folder: String?, errorNumber: Int32? = nil, message: String) {
        self.kind = kind
        self.folder = folder
        self.errorNumber = errorNumber
        self.message = message
    }
}

/// The watcher's health, for /metrics. Totals only grow; the gauges are the state now.
public struct WatcherCounters: Sendable, Equatable {
    /// Failed `inotify_add_watch` calls (total), including the retries at each rescan of a folder that still fails.
    public var watchFailures = 0
    /// Folders under the watch roots that have no watch now (gauge): their files are found only by rescans.
    public var unwatchedFolders = 0
    /// Watch roots that do not exist now, or whose file system is unmounted (gauge).
    public var missingRoots = 0
    /// Event queue overflows (total).
    public var overflows = 0
    /// Periodic rescans completed (total).
    public var rescans = 0
    /// Files that a rescan (periodic or after an overflow) had to report because no event did (total): what inotify
    /// missed.
    public var filesFoundByRescan = 0

    public init() {}
}
