import Foundation
import GRDB

/// A job-store, fingerprint or retention problem, as one clear line.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public enum JobState: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
    case queued, running, done, failed, skipped
}

/// One input file to process, as stored in `jobs.sqlite` (table `jobs`, one column per property).
/// Dates are stored as seconds since 2001-01-01 (REAL), so a job reads back exactly equal to what was written.
public struct Job: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public var id: Int64?
    public var path: String
    public var size: Int64
    public var mtime: Double
    public var fingerprint: String
    public var state: JobState
    public var attempts: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?
    public var outputFolder: String?
    /// Transient failures (a full disk, too many open files) so far: a budget separate from `attempts`, which
    /// counts only runs that failed for reasons of the input or the worker.
    public var retries: Int = 0
    /// A queued job is not claimed before this date (the backoff after a transient failure).
    public var notBefore: Date?
    /// When retention deleted the output folder: a done job without its folder is then not "lost".
    public var outputRemovedAt: Date?

    public static var databaseTableName: String { "jobs" }
    public static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .timeIntervalSinceReferenceDate
    }
    public static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .timeIntervalSinceReferenceDate
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    public enum Columns {
        public static let id = Column("id"), path = Column("path"), fingerprint = Column("fingerprint")
        public static let state = Column("state"), size = Column("size"), mtime = Column("mtime")
        public static let notBefore = Column("notBefore"), outputFolder = Column("outputFolder")
        public static let outputRemovedAt = Column("outputRemovedAt")
    }
}

/// The durable job table of the daemon: `<folder>/jobs.sqlite` (SQLite in WAL mode through GRDB).
///
/// Every mutation is one IMMEDIATE transaction, so it is atomic across threads of this process and across
/// processes sharing the file (a 10 s busy timeout covers the latter; `snna jobs retry` writes while the daemon runs).
/// `synchronous` is pinned to FULL: in WAL mode NORMAL may lose the last commits on power loss, and a job committed
/// as done must stay done (docs/daemon.md, "Durability").
public final class JobStore: Sendable {
    public let path: String
    let db: DatabaseQueue

    public init(folder: String) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StoreError("state folder \(folder) exists but is not a folder") }
        } else {
            do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw StoreError("cannot create state folder \(folder): \(Self.reason(error))")
            }
        }
        guard access(folder, W_OK | X_OK) == 0 else { throw StoreError("state folder \(folder) is not writable") }
        path = (folder as NSString).appendingPathComponent("jobs.sqlite")
        var config = Configuration()
        config.journalMode = .wal
        config.busyMode = .timeout(10)
        config.label = "snna.jobs"
        do {
            db = try DatabaseQueue(path: path, configuration: config)
            // After GRDB's WAL set-up, which chooses NORMAL (a queue has one connection, so this holds for good).
            try db.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            try Self.migrator.migrate(db)
        } catch {
            throw StoreError("cannot open job database \(path): \(Self.reason(error))")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-jobs") { db in
            try db.create(table: "jobs") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("path", .text).notNull()
                t.column("size", .integer).notNull()
                t.column("mtime", .double).notNull()
                t.column("fingerprint", .text).notNull()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("createdAt", .double).notNull()
                t.column("updatedAt", .double).notNull()
                t.column("startedAt", .double)
                t.column("finishedAt", .double)
                t.column("error", .text)
                t.column("outputFolder", .text)
            }
            try db.create(index: "jobs_fingerprint_state", on: "jobs", columns: ["fingerprint", "state"])
            try db.create(index: "jobs_state_id", on: "jobs", columns: ["state", "id"])
        }
        m.registerMigration("v2-retries") { db in
            try db.alter(table: "jobs") { t in
                t.add(column: "retries", .integer).notNull().defaults(to: 0)
                t.add(column: "notBefore", .double)
                t.add(column: "outputRemovedAt", .double)
            }
        }
        return m
    }

    /// Closes the database (later calls throw). Optional: the connection also closes when the store is released.
    public func close() throws { try db.close() }

    // MARK: - Queue

    /// Queues a file, exactly once per content. Returns nil (and queues nothing) when a job with the same
    /// fingerprint is `done` (whatever its path: a renamed file is not redone), when one with the same path and
    /// fingerprint is `queued` or `running`, or when one with the same fingerprint `failed` and `retryFailed` is
    /// false. With `retryFailed: true` the latest failed job for that content is queued again (attempts reset,
    /// error cleared) and returned, instead of adding a row. A queued job for the same path with another
    /// fingerprint (the file changed before it was taken) is marked `skipped` as superseded.
    public func enqueue(path: String, size: Int64, mtime: Double, fingerprint: String,
                        retryFailed: Bool = false) throws -> Job? {
        try write { db in
            let same = Job.filter(Job.Columns.fingerprint == fingerprint)
            if try same.filter(Job.Columns.state == JobState.done).fetchCount(db) > 0 { return nil }
            if try same.filter(Job.Columns.path == path)
                .filter([JobState.queued, .running].contains(Job.Columns.state)).fetchCount(db) > 0 { return nil }
            let now = Date()
            if let failed = try same.filter(Job.Columns.state == JobState.failed)
                .order(Job.Columns.id.desc).fetchOne(db) {
                guard retryFailed else { return nil }
                try Self.supersede(db, path: path, fingerprint: fingerprint, now: now)
                var j = failed
                j.path = path; j.size = size; j.mtime = mtime
                j.state = .queued; j.attempts = 0; j.retries = 0; j.notBefore = nil; j.updatedAt = now
                j.startedAt = nil; j.finishedAt = nil; j.error = nil; j.outputFolder = nil
                try j.update(db)
                return j
            }
            try Self.supersede(db, path: path, fingerprint: fingerprint, now: now)
            var j = Job(id: nil, path: path, size: size, mtime: mtime, fingerprint: fingerprint, state: .queued,
                        attempts: 0, createdAt: now, updatedAt: now, startedAt: nil, finishedAt: nil, error: nil,
                        outputFolder: nil, retries: 0, notBefore: nil, outputRemovedAt: nil)
            try j.insert(db)
            return j
        }
    }

    private static func supersede(_ db: Database, path: String, fingerprint: String, now: Date) throws {
        try Job.filter(Job.Columns.path == path && Job.Columns.state == JobState.queued
                       && Job.Columns.fingerprint != fingerprint)
            .updateAll(db, [Job.Columns.state.set(to: JobState.skipped),
                            Column("error").set(to: "superseded: the file changed before it was processed"),
                            Column("updatedAt").set(to: now.timeIntervalSinceReferenceDate),
                            Column("finishedAt").set(to: now.timeIntervalSinceReferenceDate)])
    }

    /// Takes the oldest queued job: running, attempts + 1, startedAt = now, in one transaction (two workers,
    /// threads or processes, never get the same job). A queued job whose content meanwhile got `done` under another
    /// job (the file was renamed or copied) is marked `skipped` instead and the next one is taken.
    public func claimNext(now: Date = Date()) throws -> Job? {
        try write { db in
            // A queued job whose content is being processed right now (the same file under another name) waits:
            // once that run is done it is skipped below, so identical content never runs twice at once.
            let running = Set(try Job.filter(Job.Columns.state == JobState.running).fetchAll(db).map(\.fingerprint))
            let queued = try Job.filter(Job.Columns.state == JobState.queued
                                        && (Job.Columns.notBefore == nil
                                            || Job.Columns.notBefore <= now.timeIntervalSinceReferenceDate))
                .order(Job.Columns.id).fetchAll(db)
            for var j in queued where !running.contains(j.fingerprint) {
                if let done = try Job.filter(Job.Columns.fingerprint == j.fingerprint
                                             && Job.Columns.state == JobState.done).fetchOne(db) {
                    j.state = .skipped; j.updatedAt = now; j.finishedAt = now
                    j.error = "already processed as job \(done.id ?? 0) (\(done.path))"
                    try j.update(db)
                    continue
                }
                j.state = .running; j.attempts += 1; j.startedAt = now; j.updatedAt = now
                j.finishedAt = nil; j.error = nil; j.notBefore = nil
                try j.update(db)
                return j
            }
            return nil
        }
    }

    /// Whether this exact file (path, size, mtime) is already done, so a rescan can skip fingerprinting it.
    public func isDone(path: String, size: Int64, mtime: Double) throws -> Bool {
        try read { db in
            try Job.filter(Job.Columns.path == path && Job.Columns.size == size && Job.Columns.mtime == mtime
                           && Job.Columns.state == JobState.done).fetchCount(db) > 0
        }
    }

    public func markDone(_ id: Int64, outputFolder: String) throws {
        try finish(id, verb: "mark done") { j in
            j.state = .done; j.outputFolder = outputFolder; j.error = nil; j.outputRemovedAt = nil
        }
    }

    public func markFailed(_ id: Int64, error: String) throws {
        try finish(id, verb: "mark failed") { j in j.state = .failed; j.error = error }
    }

    /// E.g. the file was deleted while queued or in process; `reason` goes into `error`.
    public func markSkipped(_ id: Int64, reason: String) throws {
        try finish(id, verb: "mark skipped") { j in j.state = .skipped; j.error = reason }
    }

    private func finish(_ id: Int64, verb: String, _ change: (inout Job) -> Void) throws {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id) else { throw StoreError("cannot \(verb) job \(id): no such job") }
            let now = Date()
            change(&j)
            j.updatedAt = now; j.finishedAt = now
            try j.update(db)
        }
    }

    /// running → queued without counting an attempt (graceful shutdown mid-file: the job resumes next start).
    /// Throws when the job does not exist or is not running.
    public func requeue(_ id: Int64) throws {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id) else { throw StoreError("cannot requeue job \(id): no such job") }
            guard j.state == .running else {
                throw StoreError("cannot requeue job \(id): it is \(j.state.rawValue), not running")
            }
            j.state = .queued; j.attempts = max(0, j.attempts - 1); j.startedAt = nil; j.updatedAt = Date()
            try j.update(db)
        }
    }

    /// running → queued after a transient failure (a full disk, too many open files): the attempt is given back,
    /// `retries` counts up, and the job is not claimed before `now + delay`. Returns the job as stored.
    @discardableResult
    public func deferTransient(_ id: Int64, reason: String, delay: Double, now: Date = Date()) throws -> Job {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id) else { throw StoreError("cannot defer job \(id): no such job") }
            guard j.state == .running else { throw StoreError("cannot defer job \(id): it is \(j.state.rawValue), not running") }
            j.state = .queued; j.attempts = max(0, j.attempts - 1); j.retries += 1
            j.startedAt = nil; j.updatedAt = now; j.notBefore = now.addingTimeInterval(delay)
            j.error = "will retry after a transient failure: \(reason)"
            try j.update(db)
            return j
        }
    }

    /// running → queued (or failed once `maxAttempts` runs have ended this way) after the job's worker died or
    /// hung: the attempt counts, the reason is kept in `error`. Returns the new state.
    public func endCrashedRun(_ id: Int64, reason: String, maxAttempts: Int) throws -> JobState {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id) else { throw StoreError("cannot requeue job \(id): no such job") }
            guard j.state == .running else { return j.state }
            let now = Date()
            j.updatedAt = now; j.startedAt = nil
            if j.attempts >= maxAttempts {
                j.state = .failed; j.finishedAt = now
                j.error = "\(reason) (attempt \(j.attempts) of \(maxAttempts))"
            } else {
                j.state = .queued
                j.error = "\(reason) (attempt \(j.attempts) of \(maxAttempts); will retry)"
            }
            try j.update(db)
            return j.state
        }
    }

    /// failed → queued with a fresh budget (`snna jobs retry`). Throws when the job does not exist or is not failed.
    @discardableResult
    public func retry(_ id: Int64) throws -> Job {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id) else { throw StoreError("no job \(id)") }
            guard j.state == .failed else { throw StoreError("job \(id) is \(j.state.rawValue), not failed") }
            Self.resetForRetry(&j)
            try j.update(db)
            return j
        }
    }

    /// Every failed job → queued with a fresh budget. Returns the jobs queued again.
    public func retryAllFailed() throws -> [Job] {
        try write { db in
            var out: [Job] = []
            for var j in try Job.filter(Job.Columns.state == JobState.failed).order(Job.Columns.id).fetchAll(db) {
                Self.resetForRetry(&j)
                try j.update(db)
                out.append(j)
            }
            return out
        }
    }

    private static func resetForRetry(_ j: inout Job) {
        j.state = .queued; j.attempts = 0; j.retries = 0; j.notBefore = nil
        j.startedAt = nil; j.finishedAt = nil; j.error = nil; j.outputFolder = nil; j.updatedAt = Date()
    }

    /// The earliest date a deferred queued job may run (nil when none waits): workers sleep until then.
    public func nextDeferredDate() throws -> Date? {
        try read { db in
            try Double.fetchOne(db, sql: "SELECT MIN(notBefore) FROM jobs WHERE state = 'queued' AND notBefore IS NOT NULL")
                .map { Date(timeIntervalSinceReferenceDate: $0) }
        }
    }

    /// Done jobs whose output folder should exist (retention did not remove it), for the start-up check that a
    /// done job has its outputs.
    public func doneWithOutputs() throws -> [Job] {
        try read { db in
            try Job.filter(Job.Columns.state == JobState.done && Job.Columns.outputRemovedAt == nil
                           && Job.Columns.outputFolder != nil).order(Job.Columns.id).fetchAll(db)
        }
    }

    /// done → queued: its output folder is gone though retention did not remove it (e.g. lost to a power cut).
    public func requeueLostOutput(_ id: Int64) throws {
        try write { db in
            guard var j = try Job.fetchOne(db, key: id), j.state == .done else { return }
            let now = Date()
            j.state = .queued; j.attempts = 0; j.retries = 0; j.notBefore = nil; j.startedAt = nil; j.finishedAt = nil
            j.error = "queued again: its output folder \(j.outputFolder ?? "") was missing"
            j.outputFolder = nil; j.updatedAt = now
            try j.update(db)
        }
    }

    /// Records that retention deleted these output folders (so the jobs stay done, their outputs known removed).
    public func markOutputsRemoved(_ folders: [String], now: Date = Date()) throws {
        guard !folders.isEmpty else { return }
        try write { db in
            try Job.filter(folders.contains(Job.Columns.outputFolder) && Job.Columns.state == JobState.done)
                .updateAll(db, [Job.Columns.outputRemovedAt.set(to: now.timeIntervalSinceReferenceDate)])
        }
    }

    /// The output folders of done jobs (retention uses them to tell snna's folders from anything else).
    public func isDoneOutput(_ folder: String) throws -> Bool {
        try read { db in
            try Job.filter(Job.Columns.outputFolder == folder && Job.Columns.state == JobState.done).fetchCount(db) > 0
        }
    }

    /// At start: every job found `running` (the process died in it) goes back to `queued`, or to `failed` with
    /// error "interrupted N times (limit M)" when its attempts already reach `maxAttempts`.
    public func recoverInterrupted(maxAttempts: Int) throws -> (requeued: [Job], failed: [Job]) {
        let result: ([Job], [Job]) = try write { db in
            var requeued: [Job] = [], failed: [Job] = []
            let now = Date()
            for var j in try Job.filter(Job.Columns.state == JobState.running).order(Job.Columns.id).fetchAll(db) {
                j.updatedAt = now
                if j.attempts >= maxAttempts {
                    j.state = .failed; j.finishedAt = now
                    j.error = "interrupted \(j.attempts) times (limit \(maxAttempts))"
                    try j.update(db); failed.append(j)
                } else {
                    j.state = .queued; j.startedAt = nil
                    try j.update(db); requeued.append(j)
                }
            }
            return (requeued, failed)
        }
        return (requeued: result.0, failed: result.1)
    }

    // MARK: - Reading

    public func job(_ id: Int64) throws -> Job? {
        try read { db in try Job.fetchOne(db, key: id) }
    }

    /// Newest first (by id, i.e. by enqueue order).
    public func jobs(limit: Int = 100, states: [JobState]? = nil) throws -> [Job] {
        try read { db in
            var q = Job.all()
            if let states { q = q.filter(states.contains(Job.Columns.state)) }
            return try q.order(Job.Columns.id.desc).limit(max(0, limit)).fetchAll(db)
        }
    }

    /// Every state, zero included.
    public func counts() throws -> [JobState: Int] {
        try read { db in
            var out = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            let rows = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) FROM jobs GROUP BY state")
            for row in rows {
                if let s = JobState(rawValue: row[0]) { out[s] = row[1] }
            }
            return out
        }
    }

    public func queueDepth() throws -> Int {
        try read { db in try Job.filter(Job.Columns.state == JobState.queued).fetchCount(db) }
    }

    // MARK: - Plumbing

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try db.write(body) } catch let e as StoreError { throw e } catch {
            throw StoreError("job database \(path): \(Self.reason(error))")
        }
    }

    /// SQLite's `synchronous` in effect (2: FULL).
    func synchronousLevel() throws -> Int? {
        try read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    }

    /// The SQLite journal mode in effect ("wal").
    func journalMode() throws -> String? {
        try read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try db.read(body) } catch let e as StoreError { throw e } catch {
            throw StoreError("job database \(path): \(Self.reason(error))")
        }
    }

    static func reason(_ error: Error) -> String {
        if let e = error as? DatabaseError { return e.message ?? "\(e.resultCode)" }
        if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError {
            return u.localizedDescription
        }
        return (error as NSError).localizedDescription
    }
}
