import Foundation
import Testing
@testable import SNNAMedia

@Suite(.enabled(if: VideoTools.available, "ffmpeg/ffprobe CLI not on PATH"))
struct VideoWriterTests {
    /// A diagonal gradient with a white square that moves right by 2 pixels a frame.
    static func pattern(width: Int, height: Int, frame: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                let inSquare = x >= (frame * 2) % width && x < (frame * 2) % width + 16 && y >= 8 && y < 24
                pixels[i] = inSquare ? 255 : UInt8(x * 255 / max(1, width - 1))
                pixels[i + 1] = inSquare ? 255 : UInt8(y * 255 / max(1, height - 1))
                pixels[i + 2] = inSquare ? 255 : 96
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    @Test func writesConstantRateH264MP4() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/out.mp4"
            let writer = try VideoWriter(path: path, width: 160, height: 120, timeBaseNumerator: 1,
                                         timeBaseDenominator: 30, frameRate: 30)
            var written: [RGBImage] = []
            for n in 0..<60 {
                let image = Self.pattern(width: 160, height: 120, frame: n)
                written.append(image)
                try writer.write(image, pts: Int64(n), duration: 1)
                #expect(!FileManager.default.fileExists(atPath: path), "the final path must not exist before finish()")
            }
            #expect(FileManager.default.fileExists(atPath: writer.temporaryPath))
            #expect(URL(fileURLWithPath: writer.temporaryPath).lastPathComponent == ".out.mp4.partial-\(getpid())")
            try writer.finish()
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.mp4"])

            let stream = try VideoTools.probeStream(path, "stream=codec_name,width,height,pix_fmt,nb_read_frames,duration",
                                                    extra: ["-count_frames"])
            #expect(stream["codec_name"] == "h264")
            #expect(stream["width"] == "160" && stream["height"] == "120")
            #expect(stream["pix_fmt"] == "yuv420p")
            #expect(stream["nb_read_frames"] == "60")
            let duration = Double(stream["duration"] ?? "") ?? 0
            #expect(abs(duration - 2.0) <= 0.05, "stream duration \(duration)")
            let formatDuration = Double(try VideoTools.probe(["-show_entries", "format=duration", "-of", "csv=p=0", path])
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(abs(formatDuration - 2.0) <= 0.05, "format duration \(formatDuration)")
            // +faststart: moov comes before mdat.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let moov = bytes.range(of: Data("moov".utf8))?.lowerBound ?? .max
            let mdat = bytes.range(of: Data("mdat".utf8))?.lowerBound ?? .max
            #expect(moov < mdat)

            // Our own reader gets the same pictures back, near enough for crf 20.
            let reader = try VideoReader(path: path)
            var n = 0
            while let frame = try reader.next() {
                #expect(abs(frame.seconds - Double(n) / 30) < 1e-6)
                if n % 20 == 0 {
                    let diff = VideoTools.meanAbsDiff(frame.image.pixels, written[n].pixels)
                    #expect(diff < 4, "frame \(n) differs by \(diff) on average")
                }
                n += 1
            }
            #expect(n == 60 && !reader.truncated)
        }
    }

    @Test func keepsVariableFrameRateTimestamps() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/vfr.mp4"
            let pts: [Int64] = [0, 33, 70, 100, 180, 200, 233, 300, 310, 400, 433, 466, 600, 640, 700, 735, 800, 1000]
            let writer = try VideoWriter(path: path, width: 64, height: 48, timeBaseNumerator: 1,
                                         timeBaseDenominator: 1000, frameRate: 30)
            for (n, t) in pts.enumerated() {
                let duration = n + 1 < pts.count ? pts[n + 1] - t : 40
                try writer.write(Self.pattern(width: 64, height: 48, frame: n), pts: t, duration: duration)
            }
            try writer.finish()
            let times = try VideoTools.probeFrameTimes(path)
            #expect(times.count == pts.count)
            for (time, t) in zip(times, pts) {
                #expect(abs(time - Double(t) / 1000) < 1e-6, "ffprobe \(time) vs written \(t) ms")
            }
            let formatDuration = Double(try VideoTools.probe(["-show_entries", "format=duration", "-of", "csv=p=0", path])
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(abs(formatDuration - 1.04) <= 0.005, "format duration \(formatDuration)")
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.frames.map { ($0.seconds * 1000).rounded() } == pts.map { Double($0) })
        }
    }

    @Test func abandonAndDeinitLeaveNoFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/gone.mp4"
            let writer = try VideoWriter(path: path, width: 32, height: 32, timeBaseNumerator: 1,
                                         timeBaseDenominator: 30, frameRate: 30)
            for n in 0..<5 { try writer.write(Self.pattern(width: 32, height: 32, frame: n), pts: Int64(n), duration: 1) }
            writer.abandon()
            writer.abandon()
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
            #expect(throws: MediaError.self) { try writer.finish() }

            do {
                let dropped = try VideoWriter(path: path, width: 32, height: 32, timeBaseNumerator: 1,
                                              timeBaseDenominator: 30, frameRate: 30)
                try dropped.write(Self.pattern(width: 32, height: 32, frame: 0), pts: 0, duration: 1)
                #expect(FileManager.default.fileExists(atPath: dropped.temporaryPath))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "deinit must delete the partial file")
        }
    }

    @Test func rejectsBadInput() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/bad.mp4"
            let writer = try VideoWriter(path: path, width: 32, height: 32, timeBaseNumerator: 1,
                                         timeBaseDenominator: 30, frameRate: 30)
            try writer.write(Self.pattern(width: 32, height: 32, frame: 0), pts: 5, duration: 1)
            #expect(throws: MediaError.self) { try writer.write(Self.pattern(width: 32, height: 32, frame: 1), pts: 5, duration: 1) }
            #expect(throws: MediaError.self) { try writer.write(Self.pattern(width: 16, height: 32, frame: 1), pts: 6, duration: 1) }
            writer.abandon()
            let missing = dir + "/no/such/folder/x.mp4"
            let error = #expect(throws: MediaError.self) {
                _ = try VideoWriter(path: missing, width: 32, height: 32, timeBaseNumerator: 1, timeBaseDenominator: 30,
                                    frameRate: 30)
            }
            #expect(error?.message.contains(missing) == true, "\(error?.message ?? "")")
        }
    }

    @Test func oddSizeIsPaddedToEven() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/odd.mp4"
            let writer = try VideoWriter(path: path, width: 101, height: 75, timeBaseNumerator: 1,
                                         timeBaseDenominator: 30, frameRate: 30)
            #expect(writer.encodedWidth == 102 && writer.encodedHeight == 76)
            let image = Self.pattern(width: 101, height: 75, frame: 3)
            for n in 0..<10 { try writer.write(image, pts: Int64(n), duration: 1) }
            try writer.finish()
            let stream = try VideoTools.probeStream(path, "stream=width,height,nb_read_frames", extra: ["-count_frames"])
            #expect(stream["width"] == "102" && stream["height"] == "76" && stream["nb_read_frames"] == "10")

            let decoded = try VideoReader(path: path)
            let frame = try #require(try decoded.next())
            #expect(frame.image.width == 102 && frame.image.height == 76)
            // The padding column/row repeat their neighbours: compare the bottom-right corner with the source's.
            let got = frame.image.pixels, src = image.pixels
            let padCorner = (75 * 102 + 101) * 3, srcCorner = (74 * 101 + 100) * 3
            for c in 0..<3 { #expect(abs(Int(got[padCorner + c]) - Int(src[srcCorner + c])) < 16) }
        }
    }
}
