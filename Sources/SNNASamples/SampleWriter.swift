// Writes rendered sets to disk: stills (frames/, masks/, labels.json, scenes.jsonl) or a clip (clip.mp4, masks/,
// labels.json, track.jsonl). Frames render in parallel; every output is independent of the thread count.
import Dispatch
import Foundation
import SNNAMedia

public struct SampleError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// What a write produced.
public struct SampleSummary: Sendable {
    public var frames: Int
    /// Positive frames per label, in `SceneLabel.allCases` order.
    public var positives: [Int]
    public var seconds: Double
    /// Wall time of the rendering only (no files), summed over frames, per frame.
    public var renderSecondsPerFrame: Double
}

public enum SampleWriter {
    /// The 6-digit frame name.
    public static func frameName(_ index: Int) -> String {
        let digits = String(index)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default:
                if ch.value < 0x20 {
                    let hex = String(ch.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        return out + "\""
    }

    /// The "labels", "causes", "regions" and "masks" members of a JSON line (without braces).
    static func truthJSON(_ r: RenderedScene, name: String) -> String {
        let positive = SceneLabel.allCases.filter { r.annotation[$0] }
        let labels = SceneLabel.allCases.map { "\(quoted($0.rawValue)):\(r.annotation[$0] ? 1 : 0)" }.joined(separator: ",")
        let causes = positive.map { label in
            "\(quoted(label.rawValue)):[" + r.annotation.causes(for: label).map { quoted($0.text) }.joined(separator: ",") + "]"
        }.joined(separator: ",")
        let regions = positive.map { label in
            "\(quoted(label.rawValue)):[" + (r.regions[label] ?? []).map { "[\($0.x0),\($0.y0),\($0.x1),\($0.y1)]" }
                .joined(separator: ",") + "]"
        }.joined(separator: ",")
        let masks = positive.map { "\(quoted($0.rawValue)):\(quoted(maskPath(name, $0)))" }.joined(separator: ",")
        return "\"labels\":{\(labels)},\"causes\":{\(causes)},\"regions\":{\(regions)},\"masks\":{\(masks)}"
    }

    public static func maskPath(_ name: String, _ label: SceneLabel) -> String { "masks/\(name)-\(label.rawValue).png" }

    static func writeMasks(_ r: RenderedScene, name: String, folder: String) throws {
        for label in SceneLabel.allCases where r.annotation[label] {
            try PNGWriter.write(r.maskImage(label)!, to: folder + "/" + maskPath(name, label))
        }
    }

    /// Removes what an earlier render left in `folder` (its frames, masks, clip and JSON files, nothing else), so a
    /// stale mask or frame can never pass for one of this render: `snna eval` reads masks by name.
    static func removePreviousOutput(_ folder: String) throws {
        let fm = FileManager.default
        func isRendered(_ name: String) -> Bool {
            let stem = name.hasSuffix(".png") ? String(name.dropLast(4)) : ""
            let digits = stem.prefix(6)
            return digits.count == 6 && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber)
                && (stem.count == 6 || stem.dropFirst(6).hasPrefix("-"))
        }
        do {
            for sub in ["frames", "masks"] where fm.fileExists(atPath: folder + "/" + sub) {
                for name in try fm.contentsOfDirectory(atPath: folder + "/" + sub) where isRendered(name) {
                    try fm.removeItem(atPath: folder + "/" + sub + "/" + name)
                }
            }
            for name in ["labels.json", "scenes.jsonl", "track.jsonl", "clip.mp4"] where fm.fileExists(atPath: folder + "/" + name) {
                try fm.removeItem(atPath: folder + "/" + name)
            }
        } catch {
            throw SampleError("cannot clear the earlier render in '\(folder)': \((error as NSError).localizedDescription)")
        }
    }

    static func makeFolder(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SampleError("'\(path)' is a file, not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SampleError("cannot create folder '\(path)': \((error as NSError).localizedDescription)")
        }
    }

    static func writeText(_ text: String, to path: String) throws {
        let temporary = path + ".partial"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: temporary, toPath: path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw SampleError("cannot write '\(path)': \((error as NSError).localizedDescription)")
        }
    }

    static func labelsJSON(_ entries: [(String, [Int])]) -> String {
        "{\n" + entries.map { "  \(quoted($0.0 + ".png")): [\($0.1.map(String.init).joined(separator: ", "))]" }
            .joined(separator: ",\n") + "\n}\n"
    }

    /// Results of parallel work, one slot per index.
    final class Slots<T>: @unchecked Sendable {
        private var items: [T?]
        private var error: Error?
        private let lock = NSLock()
        init(_ count: Int) { items = [T?](repeating: nil, count: count) }
        func set(_ i: Int, _ value: T) { lock.lock(); items[i] = value; lock.unlock() }
        func fail(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
        var failed: Bool { lock.lock(); defer { lock.unlock() }; return error != nil }
        func result() throws -> [T] {
            if let error { throw error }
            return items.map { $0! }
        }
    }

    /// Runs body(i) for i in range on up to `threads` threads.
    static func parallel(_ range: Range<Int>, threads: Int, _ body: @escaping @Sendable (Int) throws -> Void,
                         failing slots: (any FailureSink)) {
        let n = max(1, min(threads, range.count))
        DispatchQueue.concurrentPerform(iterations: n) { w in
            var i = range.lowerBound + w
            while i < range.upperBound {
                if slots.hasFailed { return }
                do { try body(i) } catch { slots.record(error); return }
                i += n
            }
        }
    }

    public static var defaultThreads: Int { max(1, min(8, ProcessInfo.processInfo.activeProcessorCount)) }

    struct FrameRecord: Sendable {
        var line: String
        var vector: [Int]
        var renderSeconds: Double
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Renders `count` random stills into `folder`.
    public static func writeStills(count: Int, seed: UInt64, width: Int, height: Int, folder: String,
                                   threads: Int = defaultThreads) throws -> SampleSummary {
        guard count > 0 else { throw SampleError("the number of frames must be positive") }
        try makeFolder(folder)
        try removePreviousOutput(folder)
        try makeFolder(folder + "/frames")
        try makeFolder(folder + "/masks")
        let start = now()
        let slots = Slots<FrameRecord>(count)
        parallel(0..<count, threads: threads, { i in
            let scene = SceneGenerator.scene(index: i, seed: seed, width: width, height: height)
            let t0 = now()
            let r = SceneRenderer.render(scene)
            let took = now() - t0
            let name = frameName(i)
            try PNGWriter.write(r.image, to: "\(folder)/frames/\(name).png")
            try writeMasks(r, name: name, folder: folder)
            let line = "{\"file\":\(quoted(name + ".png")),\(truthJSON(r, name: name)),\"seed\":\(scene.seed),\"dusk\":\(scene.dusk)}"
            slots.set(i, FrameRecord(line: line, vector: r.annotation.vector, renderSeconds: took))
        }, failing: slots)
        let records = try slots.result()
        try writeText(records.map(\.line).joined(separator: "\n") + "\n", to: folder + "/scenes.jsonl")
        try writeText(labelsJSON(records.enumerated().map { (frameName($0.offset), $0.element.vector) }),
                      to: folder + "/labels.json")
        return summary(records, start: start)
    }

    static func summary(_ records: [FrameRecord], start: Double) -> SampleSummary {
        var positives = [Int](repeating: 0, count: SceneLabel.allCases.count)
        for r in records { for k in positives.indices { positives[k] += r.vector[k] } }
        return SampleSummary(frames: records.count, positives: positives, seconds: now() - start,
                             renderSecondsPerFrame: records.map(\.renderSeconds).reduce(0, +) / Double(max(1, records.count)))
    }

    /// Renders the scripted drive of `seconds` at `fps` into `folder`.
    public static func writeClip(seconds: Double, fps: Int, seed: UInt64, width: Int, height: Int, folder: String,
                                 threads: Int = defaultThreads) throws -> SampleSummary {
        guard seconds > 0, seconds.isFinite else { throw SampleError("the clip length must be positive") }
        guard fps > 0 else { throw SampleError("the frame rate must be positive") }
        try makeFolder(folder)
        try removePreviousOutput(folder)
        try makeFolder(folder + "/masks")
        let start = now()
        let script = DriveScript(duration: seconds, seed: seed, width: width, height: height)
        let count = script.frameCount(fps: fps)
        let writer = try VideoWriter(path: folder + "/clip.mp4", width: width, height: height, timeBaseNumerator: 1,
                                     timeBaseDenominator: Int32(fps), frameRate: Double(fps))
        var records: [FrameRecord] = []
        let batch = max(1, threads) * 2
        var first = 0
        do {
            while first < count {
                let range = first..<min(count, first + batch)
                let slots = Slots<(RGBImage, FrameRecord)>(range.count)
                let base = range.lowerBound
                parallel(range, threads: threads, { i in
                    let time = Double(i) / Double(fps)
                    let scene = script.scene(at: time)
                    let t0 = now()
                    let r = SceneRenderer.render(scene)
                    let took = now() - t0
                    let name = frameName(i)
                    try writeMasks(r, name: name, folder: folder)
                    let timeText = String(format: "%.4f", time)
                    let line = "{\"frame\":\(i),\"time\":\(timeText),\(truthJSON(r, name: name))}"
                    slots.set(i - base, (r.image, FrameRecord(line: line, vector: r.annotation.vector, renderSeconds: took)))
                }, failing: slots)
                for (k, (image, record)) in try slots.result().enumerated() {
                    try writer.write(image, pts: Int64(range.lowerBound + k), duration: 1)
                    records.append(record)
                }
                first = range.upperBound
            }
            try writer.finish()
        } catch {
            writer.abandon()
            throw error
        }
        try writeText(records.map(\.line).joined(separator: "\n") + "\n", to: folder + "/track.jsonl")
        try writeText(labelsJSON(records.enumerated().map { (frameName($0.offset), $0.element.vector) }),
                      to: folder + "/labels.json")
        return summary(records, start: start)
    }
}

protocol FailureSink: Sendable {
    var hasFailed: Bool { get }
    func record(_ error: Error)
}

extension SampleWriter.Slots: FailureSink {
    var hasFailed: Bool { failed }
    func record(_ error: Error) { fail(error) }
}
