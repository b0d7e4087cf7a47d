import GRDB

/// One page of `/api/jobs`: newest first, and where the next (older) page starts.
public struct JobPage: Sendable, Equatable {
    public let jobs: [Job]
    /// The id to pass as `after` for the next page; nil when no older job remains.
    public let nextAfter: Int64?
}

extension JobStore {
    /// At most `limit` jobs (at least 1) with ids below `after` (all when nil), newest first.
    ///
    /// Keyset paging on the primary key: a page is one index range scan whatever its depth, and jobs queued while a
    /// client pages (higher ids) or removed by retention shift nothing, so each id is returned at most once.
    /// One row more than asked tells whether an older page exists, so the last page announces no next one.
    public func jobs(after: Int64?, limit: Int) throws -> JobPage {
        let limit = max(1, limit)
        return try read { db in
            var query = Job.all()
            if let after { query = query.filter(Job.Columns.id < after) }
            let rows = try query.order(Job.Columns.id.desc).limit(limit + 1).fetchAll(db)
            let page = Array(rows.prefix(limit))
            return JobPage(jobs: page, nextAfter: rows.count > limit ? page.last?.id : nil)
        }
    }
}
