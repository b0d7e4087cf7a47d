import Foundation

/// One line of `actions.jsonl` (schema: docs/actions.schema.json).
public struct ActionRecord: Codable, Sendable, Equatable {
    public struct Explained: Codable, Sendable, Equatable {
        public struct Target: Codable, Sendable, Equatable {
            public var index: Int
            public var label: String
            /// Path of the heat-map PNG, relative to the output folder (with --heatmaps).
            public var heatmap: String?
        }
        public var method: String
        /// The label of the first explained class (the one the overlay shows).
        public var target: String
        public var targets: [Target]
        public var seed: UInt64
        /// [rows, cols] of the attribution map.
        public var grid: [Int]
        /// The first target's heat-map PNG (with --heatmaps), the one the overlay shows.
        public var heatmap: String?
    }
    public var frame: Int
    public var pts: Double
    public var labels: [String]
    public var logits: [Float]
    public var probabilities: [Float]
    public var active: [String]
    public var explained: Explained?
}

/// Appends records to `actions.jsonl`, each as one complete line in a single write(2), so `tail -f` and readers of a
/// growing file only ever see whole lines.
final class ActionLog {
    private let handle: FileHandle
    private let encoder: JSONEncoder

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw PipelineError("cannot create '\(path)'")
        }
        self.handle = handle
        encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
    }

    func append(_ record: ActionRecord) throws {
        var line = try encoder.encode(record)
        line.append(0x0A)
        try handle.write(contentsOf: line)
    }

    func close() throws {
        try handle.synchronize()
        try handle.close()
    }
}

/// A failure of the pipeline, worded for the person running it.
public struct PipelineError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
