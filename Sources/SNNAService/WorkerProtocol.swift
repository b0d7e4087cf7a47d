import Foundation
import SNNAPipeline

/// What `snna serve` hands a worker process on its stdin: one job, everything it needs to run it alone.
public struct WorkerRequest: Codable, Sendable {
    public var job: Int64
    public var input: String
    public var outputRoot: String
    public var outputName: String
    /// The input's content fingerprint: recorded in the output's marker, so no other input's result replaces it.
    public var identity: String
    public var model: String
    public var settings: ProcessSettings
    public var threads: Int
    /// Address-space cap of the worker in bytes (nil: none).
    public var addressSpaceLimit: UInt64?
    /// The supervisor's pid: a worker whose parent is already gone exits at once.
    public var parent: Int32
}

/// One line a worker writes on its stdout (JSON, one object per line). Everything else it has to say goes to stderr.
public struct WorkerMessage: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// The model is loaded and the input opened.
        case started
        /// Frames decoded so far (after each batch): the supervisor's measure of progress.
        case progress
        /// A one-line warning about the input (damage, truncation).
        case warning
        /// The outputs are committed durably at `outputFolder`.
        case done
        /// The job failed; `transient` says whether it is worth retrying later (full disk, too many open files…).
        case failed
        /// Stopped by SIGTERM before the end; nothing was committed.
        case cancelled
    }
    public var kind: Kind
    public var frames: Int?
    public var expected: Int?
    public var text: String?
    public var transient: Bool?
    public var outputFolder: String?
    public var summary: RunSummary?

    public init(kind: Kind, frames: Int? = nil, expected: Int? = nil, text: String? = nil, transient: Bool? = nil,
                outputFolder: String? = nil, summary: RunSummary? = nil) {
        self.kind = kind; self.frames = frames; self.expected = expected; self.text = text
        self.transient = transient; self.outputFolder = outputFolder; self.summary = summary
    }
}
