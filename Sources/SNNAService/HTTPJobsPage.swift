import Foundation
import HTTPTypes
import Hummingbird

/// `GET /api/jobs[?after=ID][&limit=N]`: one page of jobs, newest first.
///
/// The body stays what it always was, a bare JSON array of jobs, so existing clients keep working (they now see the
/// newest page instead of the newest 1000). The next page, when there is one, is announced in headers:
/// `Link: </api/jobs?after=ID&limit=N>; rel="next"` (RFC 8288) and `X-Next-After: ID`; the last page has neither.
extension HTTPEndpoints {
    static let defaultJobsPageLimit = 100
    static let maxJobsPageLimit = 1000

    static func jobsPage(_ request: Request, store: JobStore) -> Response {
        let query = request.uri.queryParameters
        var limit = defaultJobsPageLimit
        if let text = query["limit"] {
            guard let value = Int(text), (1...maxJobsPageLimit).contains(value) else {
                return problem(.badRequest, "'limit' must be an integer from 1 to \(maxJobsPageLimit), not '\(text)'")
            }
            limit = value
        }
        var after: Int64?
        if let text = query["after"] {
            guard let value = Int64(text), value >= 1 else {
                return problem(.badRequest, "'after' must be a job id (an integer of at least 1), not '\(text)'")
            }
            after = value
        }
        let page: JobPage
        do { page = try store.jobs(after: after, limit: limit) } catch {
            return problem(.internalServerError, "\(error)")
        }
        var response = json(page.jobs)
        if let next = page.nextAfter {
            response.headers[HTTPField.Name("Link")!] = "</api/jobs?after=\(next)&limit=\(limit)>; rel=\"next\""
            response.headers[HTTPField.Name("X-Next-After")!] = String(next)
        }
        return response
    }

    /// `{"error": "…"}` with the given status.
    static func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(["error": message], status: status)
    }
}
