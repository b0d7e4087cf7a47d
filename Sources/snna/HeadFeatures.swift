import Foundation
import SNNAKernels
import SNNAMedia
import SNNAModel
import SNNAModelImport
import SNNAPipeline

/// The head's input features (final-normed CLS of the last n blocks) for pictures of a folder, optionally mirrored,
/// computed in batches of 8 and, with a cache file, computed once across runs: fitting a head again with other
/// settings then costs no forward pass. The cache is a safetensors file keyed by a fingerprint of the backbone
/// (so a different backbone never reuses it; the head does not matter) and, per row, by the picture's full path,
/// size, modification time and mirroring. Rows of pictures that changed or vanished are dropped when it is saved.
struct HeadFeatures {
    let engine: ViTEngine
    let folder: String
    /// The folder's absolute path with symbolic links resolved: the cache key's prefix.
    private let realFolder: String
    let cachePath: String?
    private let backboneKey: String
    private var cached: [String: [Float]] = [:]
    private var added = 0

    init(engine: ViTEngine, model: ViTModel, folder: String, cachePath: String?) throws {
        self.engine = engine
        self.folder = folder
        realFolder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
        self.cachePath = cachePath
        backboneKey = HeadFeatures.fingerprint(model)
        if let cachePath, FileManager.default.fileExists(atPath: cachePath) {
            let file: SafeTensorsFile
            do { file = try SafeTensorsFile(path: cachePath) } catch {
                throw CLIError("feature cache '\(cachePath)' is not readable (\(error)); delete it to rebuild")
            }
            if file.metadata["backbone"] == backboneKey, let keysJSON = file.metadata["rows"],
               let keys = try? JSONDecoder().decode([String].self, from: Data(keysJSON.utf8)) {
                let values = try file.floats("features")
                let width = keys.isEmpty ? 0 : values.count / keys.count
                for (i, key) in keys.enumerated() { cached[key] = Array(values[(i * width)..<((i + 1) * width)]) }
            }
        }
    }

    /// Backbone identity without hashing the whole file: the configuration and sums over a few tensors that any
    /// other backbone would change.
    private static func fingerprint(_ model: ViTModel) -> String {
        let c = model.config, w = model.weights
        func sum(_ values: [Float]) -> String { String(format: "%.9g", values.reduce(0.0) { $0 + Double($1) }) }
        var parts = ["\(c.patchSize) \(c.dim) \(c.depth) \(c.numHeads) \(c.nLastBlocks) \(c.inputShortSide) \(c.mean) \(c.std) \(c.positionalInterpolation)"]
        parts.append(sum(w.patchEmbed.weight.data) + "," + sum(w.posEmbed.data) + "," + sum(w.clsToken))
        for block in w.blocks {
            parts.append(sum(block.qkv.weight.data) + "," + sum(block.fc2.weight.data) + "," + sum(block.layerScale2 ?? []))
        }
        parts.append(sum(w.norm.gamma) + "," + sum(w.norm.beta))
        return parts.joined(separator: "|")
    }

    private func key(_ name: String, flip: Bool) -> String {
        HeadFeatures.key(path: realFolder + "/" + name, flip: flip)
    }

    private static func key(path: String, flip: Bool) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let time = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(path)|\(size)|\(Int64(time * 1000))|\(flip ? "mirrored" : "plain")"
    }

    /// One feature row per name, in order; progress on standard error for long lists.
    mutating func rows(_ names: [String], flip: Bool, what: String) throws -> [[Float]] {
        var out = [[Float]](repeating: [], count: names.count)
        var missing: [Int] = []
        for (i, name) in names.enumerated() {
            if let row = cached[key(name, flip: flip)] { out[i] = row } else { missing.append(i) }
        }
        var done = 0, lastReport = Date()
        for start in stride(from: 0, to: missing.count, by: 8) {
            let chunk = Array(missing[start..<min(missing.count, start + 8)])
            let inputs = try chunk.map { i -> ImageTensor in
                var picture = try ImageDecoder.decode(path: folder + "/" + names[i])
                if flip { picture = picture.flippedHorizontally() }
                return try ModelInput(picture, engine: engine, name: "image '\(names[i])'").tensor
            }
            for (i, row) in zip(chunk, try engine.features(inputs)) {
                out[i] = row
                cached[key(names[i], flip: flip)] = row
                added += 1
            }
            done += chunk.count
            if Date().timeIntervalSince(lastReport) > 10 || done == missing.count {
                FileHandle.standardError.write(Data("features (\(what)): \(done)/\(missing.count) computed\n".utf8))
                lastReport = Date()
            }
        }
        return out
    }

    /// Writes the cache (old rows plus new ones, less those whose picture changed or is gone) when rows were added,
    /// under a temporary name renamed over the old file.
    func save() throws {
        guard let cachePath, added > 0 else { return }
        let keys = cached.keys.sorted().filter { key in
            let parts = key.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count >= 4 else { return false }
            let path = parts.dropLast(3).joined(separator: "|")
            return HeadFeatures.key(path: path, flip: parts.last == "mirrored") == key
        }
        let width = keys.first.map { cached[$0]!.count } ?? 0
        var values: [Float] = []
        values.reserveCapacity(keys.count * width)
        for k in keys { values += cached[k]! }
        let rows = String(decoding: try JSONEncoder().encode(keys), as: UTF8.self)
        let temporary = cachePath + ".partial-\(getpid())"
        do {
            try SafeTensorsWriter.write(tensors: [("features", [keys.count, width], values)],
                                        metadata: ["backbone": backboneKey, "rows": rows], to: temporary)
            guard rename(temporary, cachePath) == 0 else {
                throw CLIError("cannot write the feature cache '\(cachePath)': \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }
}
