import Foundation
import SNNAKernels
import SNNAMedia

/// The pictures or video frames `snna eval` evaluates: all of them, or `sampleCount` drawn with the seed, in name
/// (or frame) order; decoded one at a time, so memory does not depend on how many there are.
struct EvalSource {
    static let pictureExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"]
    let images: String?
    let video: String?
    /// Picture names, or frame names (000000.png, …) of the chosen frames.
    let chosen: [String]
    let available: Int
    var count: Int { chosen.count }

    /// A labels-file key for a picture or frame: the name itself, or for video frames also the name without ".png".
    func key(_ name: String, in table: [String: [Float]]) -> String {
        table[name] != nil || images != nil ? name : String(name.dropLast(4))
    }

    static func frameName(_ index: Int) -> String { String(format: "%06d.png", index) }

    init(images: String?, video: String?, table: [String: [Float]]?, sampleCount: Int?, seed: UInt64) throws {
        self.images = images
        self.video = video
        var names: [String]
        if let images {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: images, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CLIError("--images '\(images)' is not a folder")
            }
            names = try FileManager.default.contentsOfDirectory(atPath: images)
                .filter { !$0.hasPrefix(".") && EvalSource.pictureExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
            guard !names.isEmpty else { throw CLIError("--images '\(images)' holds no pictures (png, jpg, bmp, webp, tiff)") }
        } else {
            // One decoding pass to count the frames, so the sample can be drawn before the evaluation pass.
            let reader = try VideoReader(path: video!)
            var frames = 0
            while try reader.next() != nil { frames += 1 }
            guard frames > 0 else { throw CLIError("--video '\(video!)' has no decodable frame") }
            names = (0..<frames).map(EvalSource.frameName)
        }
        if let table {
            let present = Set(names)
            for name in table.keys.sorted() where !present.contains(name) && (images != nil || !present.contains(name + ".png")) {
                throw CLIError("the labels file names '\(name)', which is not " + (images != nil ? "in '\(images!)'" : "a frame of '\(video!)' (frames are 000000.png …)"))
            }
            // Only labelled pictures are evaluated against labels; an unlabelled one is an error, not a silent skip.
            if let missing = names.first(where: { table[$0] == nil && (images != nil || table[String($0.dropLast(4))] == nil) }) {
                throw CLIError("the labels file has no entry for '\(missing)'" + (images != nil ? " of '\(images!)'" : " of '\(video!)'"))
            }
        }
        available = names.count
        if let sampleCount, sampleCount < names.count {
            var rng = SeededRandom(seed: seed)
            var order = Array(names.indices)
            order.shuffle(using: &rng)
            names = order.prefix(sampleCount).sorted().map { names[$0] }
        }
        chosen = names
    }

    func forEach(_ body: (_ name: String, _ picture: RGBImage) throws -> Void) throws {
        if let images {
            for name in chosen { try body(name, try ImageDecoder.decode(path: images + "/" + name)) }
            return
        }
        let wanted = Set(chosen)
        let reader = try VideoReader(path: video!)
        var left = wanted.count
        while left > 0, let frame = try reader.next() {
            let name = EvalSource.frameName(frame.index)
            guard wanted.contains(name) else { continue }
            try body(name, frame.image)
            left -= 1
        }
    }
}

/// Ground-truth region masks: `<folder>/<name without extension>-<label>.png`, 8-bit, inside where ≥ 128, the size of
/// the picture. Brought to the model input's pixels the way the picture is: the short side to the model's, by
/// nearest neighbour (a mask stays binary), then the same top-left crop.
enum RegionMasks {
    static func load(folder: String, name: String, labels: [String], picture: RGBImage, shortSide: Int,
                     input: ImageTensor) throws -> [Int: [Bool]] {
        let stem = (name as NSString).deletingPathExtension
        var regions: [Int: [Bool]] = [:]
        let size = PILResize.targetSize(width: picture.width, height: picture.height, shortSide: shortSide)
        for (k, label) in labels.enumerated() {
            let path = "\(folder)/\(stem)-\(label).png"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let mask = try ImageDecoder.decode(path: path)
            guard mask.width == picture.width, mask.height == picture.height else {
                throw CLIError("region mask '\(path)' is \(mask.width)×\(mask.height), its picture \(picture.width)×\(picture.height)")
            }
            var region = [Bool](repeating: false, count: input.height * input.width)
            let sx = Double(mask.width) / Double(size.width), sy = Double(mask.height) / Double(size.height)
            for y in 0..<input.height {
                let my = min(mask.height - 1, Int((Double(y) + 0.5) * sy))
                for x in 0..<input.width {
                    let mx = min(mask.width - 1, Int((Double(x) + 0.5) * sx))
                    region[y * input.width + x] = mask.pixels[(my * mask.width + mx) * 3] >= 128
                }
            }
            if region.contains(true) { regions[k] = region }
        }
        return regions
    }
}
