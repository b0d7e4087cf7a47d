import Foundation
import Testing
@testable import SNNAMedia

/// Clip making and ffprobe comparisons shared by the video tests.
enum VideoTools {
    static let ffprobe: String? = ExternalTool.find("ffprobe")
    static let available = ExternalTool.ffmpeg != nil && ffprobe != nil

    /// `ffmpeg -hide_banner -loglevel error -y <arguments>`; fails the test if it fails.
    static func ffmpeg(_ arguments: [String]) throws {
        let ffmpeg = try #require(ExternalTool.ffmpeg)
        let result = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-y"] + arguments)
        try #require(result.status == 0, "ffmpeg \(arguments.joined(separator: " ")) failed")
    }

    static func probe(_ arguments: [String]) throws -> String {
        let ffprobe = try #require(ffprobe)
        let result = try ExternalTool.run(ffprobe, ["-v", "error"] + arguments)
        try #require(result.status == 0, "ffprobe \(arguments.joined(separator: " ")) failed")
        return String(decoding: result.stdout, as: UTF8.self)
    }

    /// best_effort_timestamp_time of every video frame, as ffprobe prints it.
    static func probeFrameTimes(_ path: String) throws -> [Double] {
        let text = try probe(["-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
                              "-of", "csv=p=0", path])
        return text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ", ")) }
            .filter { !$0.isEmpty }
            .map { Double($0) ?? .nan }
    }

    /// `key=value` lines of `-show_entries stream=…` for the first video stream.
    static func probeStream(_ path: String, _ entries: String, extra: [String] = []) throws -> [String: String] {
        let text = try probe(extra + ["-select_streams", "v:0", "-show_entries", entries, "-of", "default=nw=1", path])
        var result: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { result[String(parts[0])] = String(parts[1]) }
        }
        return result
    }

    static func testsrc(_ size: String = "640x360", seconds: Int = 3) -> [String] {
        ["-f", "lavfi", "-i", "testsrc2=size=\(size):rate=30", "-t", "\(seconds)"]
    }

    static let x264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]

    struct Decoded {
        var info: VideoInfo
        var frames: [VideoFrame]  // images dropped except the first, to keep memory small
        var firstImage: RGBImage?
        var truncated: Bool
        var warnings: [String]
    }

    static func decodeAll(_ path: String) throws -> Decoded {
        let reader = try VideoReader(path: path)
        var frames: [VideoFrame] = []
        var first: RGBImage?
        while var frame = try reader.next() {
            #expect(frame.image.width == reader.info.width && frame.image.height == reader.info.height)
            if first == nil { first = frame.image }
            frame.image = RGBImage(width: 0, height: 0)
            frames.append(frame)
        }
        #expect(try reader.next() == nil, "next() after the end must stay nil")
        return Decoded(info: reader.info, frames: frames, firstImage: first,
                       truncated: reader.truncated, warnings: reader.warnings)
    }

    /// Every frame's time must be ffprobe's, in order, and indices must count up.
    static func expectTimesMatchFFprobe(_ decoded: Decoded, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try probeFrameTimes(path)
        #expect(decoded.frames.count == expected.count, "frame count vs ffprobe", sourceLocation: sourceLocation)
        for (i, (frame, time)) in zip(decoded.frames, expected).enumerated() {
            #expect(frame.index == i, sourceLocation: sourceLocation)
            #expect(abs(frame.seconds - time) < 1e-6, "frame \(i): \(frame.seconds) vs ffprobe \(time)",
                    sourceLocation: sourceLocation)
            let fromPTS = Double(frame.pts) * Double(decoded.info.timeBaseNumerator) / Double(decoded.info.timeBaseDenominator)
            #expect(abs(frame.seconds - fromPTS) < 1e-9, sourceLocation: sourceLocation)
            #expect(frame.duration > 0, sourceLocation: sourceLocation)
        }
    }

    static func meanAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        let total = zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        return Double(total) / Double(a.count)
    }

    /// The first frame as the ffmpeg CLI renders it (autorotated).
    static func referenceFirstFrame(_ path: String) throws -> [UInt8] {
        let ffmpeg = try #require(ExternalTool.ffmpeg)
        let raw = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-i", path, "-frames:v", "1",
                                                "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        try #require(raw.status == 0)
        return [UInt8](raw.stdout)
    }

    /// Keeps the first `fraction` of a file's bytes, like a power cut would.
    static func cut(_ path: String, fraction: Double, to target: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(Int(Double(data.count) * fraction)).write(to: URL(fileURLWithPath: target))
    }
}

@Suite(.enabled(if: VideoTools.available, "ffmpeg/ffprobe CLI not on PATH"))
struct VideoReaderTests {
    @Test func h264MP4MatchesFFprobeAndCLIPixels() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/clip.mp4"
            try VideoTools.ffmpeg(VideoTools.testsrc() + VideoTools.x264 + [path])
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.frames.count == 90)
            #expect(decoded.info.container == "mov,mp4,m4a,3gp,3g2,mj2")
            #expect(decoded.info.codec == "h264")
            #expect(decoded.info.width == 640 && decoded.info.height == 360 && decoded.info.rotation == 0)
            #expect(decoded.info.frameRate == 30)
            #expect(decoded.info.frameCountEstimate == 90)
            #expect(abs((decoded.info.duration ?? 0) - 3) < 0.01)
            #expect(!decoded.truncated && decoded.warnings.isEmpty)
            try VideoTools.expectTimesMatchFFprobe(decoded, path)
            let total = decoded.frames.reduce(Int64(0)) { $0 + $1.duration }
            #expect(abs(Double(total) * Double(decoded.info.timeBaseNumerator) / Double(decoded.info.timeBaseDenominator) - 3) < 1e-6)

            let reference = try VideoTools.referenceFirstFrame(path)
            let first = try #require(decoded.firstImage)
            #expect(first.width == 640 && first.height == 360)
            let diff = VideoTools.meanAbsDiff(first.pixels, reference)
            #expect(diff < 2, "mean abs diff from the ffmpeg CLI: \(diff)")
        }
    }

    @Test func audioStreamIsIgnored() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/av.mp4"
            try VideoTools.ffmpeg(VideoTools.testsrc() + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
                                                           "-t", "3"] + VideoTools.x264
                                  + ["-c:a", "aac", "-b:a", "64k", "-shortest", path])
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.frames.count == 90)
            #expect(decoded.info.codec == "h264")
            #expect(!decoded.truncated && decoded.warnings.isEmpty)
            try VideoTools.expectTimesMatchFFprobe(decoded, path)
        }
    }

    struct Format: Sendable, CustomTestStringConvertible {
        var file: String
        var arguments: [String]
        var container: String
        var codec: String
        var testDescription: String { file }
    }

    static let formats: [Format] = [
        Format(file: "hevc.mkv", arguments: ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                                             "-pix_fmt", "yuv420p"], container: "matroska,webm", codec: "hevc"),
        Format(file: "h264.ts", arguments: VideoTools.x264 + ["-f", "mpegts"], container: "mpegts", codec: "h264"),
        Format(file: "mjpeg.avi", arguments: ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"],
               container: "avi", codec: "mjpeg"),
        Format(file: "h264.mov", arguments: VideoTools.x264, container: "mov,mp4,m4a,3gp,3g2,mj2", codec: "h264"),
    ]

    @Test(arguments: formats) func otherContainersAndCodecs(format: Format) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/" + format.file
            try VideoTools.ffmpeg(VideoTools.testsrc() + format.arguments + [path])
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.info.container == format.container)
            #expect(decoded.info.codec == format.codec)
            #expect(decoded.info.width == 640 && decoded.info.height == 360)
            #expect(decoded.frames.count == 90)
            #expect(!decoded.truncated, "\(decoded.warnings)")
            try VideoTools.expectTimesMatchFFprobe(decoded, path)
            if format.container == "mpegts" {
                #expect(decoded.frames.first.map { $0.pts > 0 } == true, "MPEG-TS timestamps start at 1.4 s, not 0")
            }
            let reference = try VideoTools.referenceFirstFrame(path)
            let diff = VideoTools.meanAbsDiff(try #require(decoded.firstImage).pixels, reference)
            #expect(diff < 2, "mean abs diff from the ffmpeg CLI: \(diff)")
        }
    }

    @Test func variableFrameRateKeepsEveryTimestamp() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/vfr.mp4"
            try VideoTools.ffmpeg(VideoTools.testsrc("320x180", seconds: 2)
                                  + ["-vf", "setpts='if(lt(N,10),N*2,N+10)/30/TB'", "-fps_mode", "vfr"]
                                  + VideoTools.x264 + [path])
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.frames.count == 50)  // -t 2 keeps pts < 2 s: 10 frames at 15 fps, 40 at 30 fps
            try VideoTools.expectTimesMatchFFprobe(decoded, path)
            // The first ten frames last two ticks of 1/30 s, the rest one.
            let seconds = decoded.frames.map(\.seconds)
            let gaps = zip(seconds.dropFirst(), seconds).map { $0 - $1 }
            #expect(abs(gaps[0] - 2.0 / 30) < 1e-3 && abs(gaps[30] - 1.0 / 30) < 1e-3, "\(gaps)")
        }
    }

    /// FFmpeg 5.1's CLI turns `-metadata:s:v:0 rotate=R` into a display matrix that ffprobe reports as
    /// rotation=R for 90 but −90 for 270 (and −180 for 180), so the expected clockwise angle is derived from
    /// ffprobe's side data the way the CLI's autorotate does: theta = −rotation.
    @Test(arguments: [270, 180, 90]) func displayMatrixRotationIsApplied(tag: Int) throws {
        try withTemporaryDirectory { dir in
            let plain = dir + "/plain.mp4", rotated = dir + "/rotated.mp4"
            // Blue picture, red block in the top-left corner.
            try VideoTools.ffmpeg(["-f", "lavfi", "-i",
                                   "color=c=blue:s=64x48:r=30:d=1,drawbox=x=0:y=0:w=16:h=12:color=red:t=fill"]
                                  + VideoTools.x264 + [plain])
            try VideoTools.ffmpeg(["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=\(tag)", rotated])
            let side = try VideoTools.probe(["-select_streams", "v:0", "-show_entries", "stream_side_data=rotation",
                                             "-of", "csv=p=0", rotated]).trimmingCharacters(in: .whitespacesAndNewlines)
            let ccw = try #require(Int(side), "ffprobe side data: \(side)")
            let clockwise = ((-ccw) % 360 + 360) % 360
            #expect([90, 180, 270].contains(clockwise))

            let decoded = try VideoTools.decodeAll(rotated)
            #expect(decoded.info.rotation == clockwise)
            let swapped = clockwise != 180
            #expect(decoded.info.width == (swapped ? 48 : 64) && decoded.info.height == (swapped ? 64 : 48))
            let image = try #require(decoded.firstImage)
            #expect(image.width == decoded.info.width && image.height == decoded.info.height)
            func isRed(_ x: Int, _ y: Int) -> Bool {
                let i = (y * image.width + x) * 3
                return image.pixels[i] > 200 && image.pixels[i + 2] < 60
            }
            let w = image.width, h = image.height
            // Where the top-left block goes: 90 → top-right, 180 → bottom-right, 270 → bottom-left.
            let corner: (Int, Int) = switch clockwise {
            case 90: (w - 5, 5)
            case 180: (w - 5, h - 5)
            default: (5, h - 5)
            }
            #expect(isRed(corner.0, corner.1), "rotation \(clockwise): block not at \(corner)")
            let others = [(5, 5), (w - 5, 5), (w - 5, h - 5), (5, h - 5)].filter { $0 != corner }
            for point in others { #expect(!isRed(point.0, point.1), "rotation \(clockwise): red at \(point)") }
            let reference = try VideoTools.referenceFirstFrame(rotated)  // the CLI autorotates
            let diff = VideoTools.meanAbsDiff(image.pixels, reference)
            #expect(diff < 2, "mean abs diff from the autorotating ffmpeg CLI: \(diff)")
        }
    }

    struct Cut: Sendable, CustomTestStringConvertible {
        var file: String
        var arguments: [String]
        var testDescription: String { file }
    }

    static let cuts: [Cut] = [
        Cut(file: "frag.mp4", arguments: ["-g", "30", "-movflags", "+frag_keyframe+empty_moov"]),
        Cut(file: "clip.mkv", arguments: []),
        Cut(file: "clip.ts", arguments: ["-f", "mpegts"]),
        Cut(file: "faststart.mp4", arguments: ["-movflags", "+faststart"]),
    ]

    @Test(arguments: cuts) func truncatedFileDecodesAPrefix(cut: Cut) throws {
        try withTemporaryDirectory { dir in
            let whole = dir + "/" + cut.file, partial = dir + "/cut-" + cut.file
            try VideoTools.ffmpeg(VideoTools.testsrc() + VideoTools.x264 + cut.arguments + [whole])
            let full = try VideoTools.decodeAll(whole)
            #expect(full.frames.count == 90)
            #expect(!full.truncated && full.warnings.isEmpty, "\(full.warnings)")

            try VideoTools.cut(whole, fraction: 0.6, to: partial)
            let decoded = try VideoTools.decodeAll(partial)
            #expect(decoded.frames.count >= 1 && decoded.frames.count < 90, "\(decoded.frames.count) frames")
            #expect(decoded.truncated)
            #expect(!decoded.warnings.isEmpty)
            #expect(decoded.warnings.contains { $0.contains("processed up to there") }, "\(decoded.warnings)")
            // What was decoded comes from the whole file, in order. It need not be a contiguous prefix: the cut
            // removes B-frames that display before the last P-frame that survived.
            let known = Set(full.frames.map(\.pts))
            #expect(decoded.frames.allSatisfy { known.contains($0.pts) })
            #expect(zip(decoded.frames, decoded.frames.dropFirst()).allSatisfy { $0.pts < $1.pts })
        }
    }

    @Test func unreadableFilesThrowNamingTheFile() throws {
        try withTemporaryDirectory { dir in
            var rng = SplitMix(seed: 7)
            let empty = dir + "/empty.mp4", random = dir + "/random.mp4", text = dir + "/notes.txt"
            let audio = dir + "/tone.m4a", plain = dir + "/plain.mp4", cut = dir + "/cut.mp4"
            _ = FileManager.default.createFile(atPath: empty, contents: Data())
            _ = FileManager.default.createFile(atPath: random, contents: Data(rng.bytes(100_000)))
            let lines = (0..<2000).map { "line \($0): the quick brown fox jumps over the lazy dog" }
            _ = FileManager.default.createFile(atPath: text, contents: Data(lines.joined(separator: "\n").utf8))
            try VideoTools.ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", audio])
            try VideoTools.ffmpeg(VideoTools.testsrc() + VideoTools.x264 + [plain])
            try VideoTools.cut(plain, fraction: 0.6, to: cut)

            let cases: [(String, String)] = [
                (dir + "/missing.mp4", "No such file or directory"), (dir, "Is a directory"),
                (empty, "empty"), (random, "Invalid data"), (text, "not a video"),
                (audio, "no video stream"), (cut, "moov atom not found"),
            ]
            for (path, reason) in cases {
                let error = #expect(throws: MediaError.self, "\(path)") { _ = try VideoReader(path: path) }
                #expect(error?.message.contains("'\(path)'") == true, "\(error?.message ?? "")")
                #expect(error?.message.contains(reason) == true, "\(error?.message ?? "") should say \(reason)")
                #expect(error?.message.contains("\n") == false)
            }
        }
    }
}
