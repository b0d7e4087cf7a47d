import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Failures that say nothing about the input and go away by themselves: a full disk or quota, too many open files,
/// an I/O error or a read-only remount of the output or state disk. A job failing so is queued again with backoff,
/// never failed for good (issue 14 §4).
///
/// Errors reach the daemon as text (from the worker process, FFmpeg, SQLite or Foundation), and every layer spells
/// an errno with strerror, so the test is whether the message holds the strerror text of one of these (in the
/// process's own locale, so it matches what the same libc wrote).
public enum TransientFailure {
    public static let errnos: [Int32] = [ENOSPC, EDQUOT, EMFILE, ENFILE, EIO, EROFS]

    public static let texts: [String] = errnos.map { String(cString: strerror($0)) }
        // SQLite's own words for a full disk and for an I/O error.
        + ["database or disk is full", "disk I/O error"]

    public static func matches(_ message: String) -> Bool {
        texts.contains { message.contains($0) }
    }

    /// The delay before the `retry`-th retry (1-based): `base` doubled each time, at most `maximum`.
    public static func backoff(retry: Int, base: Double, maximum: Double) -> Double {
        let exponent = Double(min(max(retry - 1, 0), 40))
        return min(maximum, base * pow(2, exponent))
    }
}
