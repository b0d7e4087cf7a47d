import Foundation
import Testing
@testable import SNNAMedia

struct ImageDecoderTests {
    @Test func pngRoundTripIsLossless() throws {
        var rng = SplitMix(seed: 42)
        let image = RGBImage(width: 31, height: 17, pixels: rng.bytes(31 * 17 * 3))
        try withTemporaryDirectory { dir in
            let path = dir + "/round trip.png"
            try PNGWriter.write(image, to: path)
            #expect(try ImageDecoder.decode(path: path) == image)
            // The temporary sibling must be renamed away, not left behind.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["round trip.png"])
        }
    }

    @Test func pngWriterReplacesExistingFile() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/x.png"
            try PNGWriter.write(RGBImage(width: 4, height: 4), to: path)
            let white = RGBImage(width: 2, height: 3, pixels: [UInt8](repeating: 255, count: 18))
            try PNGWriter.write(white, to: path)
            #expect(try ImageDecoder.decode(path: path) == white)
        }
    }

    @Test func pngWriterReportsMissingFolder() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/no/such/folder/x.png"
            let error = #expect(throws: MediaError.self) { try PNGWriter.write(RGBImage(width: 2, height: 2), to: path) }
            #expect(error?.message.contains(path) == true)
            #expect(error?.message.contains("No such file or directory") == true)
        }
    }

    @Test(.enabled(if: ExternalTool.ffmpeg != nil, "ffmpeg CLI is not on PATH"))
    func decodesJPEGLikeFFmpegCLI() throws {
        guard let ffmpeg = ExternalTool.ffmpeg else { return }
        try withTemporaryDirectory { dir in
            let jpeg = dir + "/x.jpg"
            let made = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                                                     "-i", "testsrc2=size=64x48", "-frames:v", "1", jpeg])
            try #require(made.status == 0)
            let image = try ImageDecoder.decode(path: jpeg)
            #expect(image.width == 64 && image.height == 48)
            #expect(image.pixels.count == 64 * 48 * 3)

            // The CLI with the same swscale flags is an independent route through the same libraries.
            let raw = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-i", jpeg,
                                                    "-sws_flags", "bicubic+accurate_rnd+full_chroma_int",
                                                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            try #require(raw.status == 0 && raw.stdout.count == image.pixels.count)
            let reference = [UInt8](raw.stdout)
            let maxDiff = zip(image.pixels, reference).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(maxDiff == 0, "largest difference from the ffmpeg CLI: \(maxDiff)")
        }
    }

    /// BMP stores BGR rows bottom-up, so an exact round trip checks both channel order and row order.
    @Test(.enabled(if: ExternalTool.ffmpeg != nil, "ffmpeg CLI is not on PATH"))
    func decodesBMPExactly() throws {
        guard let ffmpeg = ExternalTool.ffmpeg else { return }
        var rng = SplitMix(seed: 99)
        let image = RGBImage(width: 7, height: 5, pixels: rng.bytes(7 * 5 * 3))
        try withTemporaryDirectory { dir in
            let bmp = dir + "/random.bmp"
            let made = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-y",
                                                     "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "7x5", "-i", "-",
                                                     "-frames:v", "1", "-pix_fmt", "bgr24", bmp],
                                            stdin: Data(image.pixels))
            try #require(made.status == 0)
            #expect(try ImageDecoder.decode(path: bmp) == image)
        }
    }

    /// Grey and RGBA PNGs take other swscale paths: grey must stay full range, alpha must simply be dropped.
    @Test(.enabled(if: ExternalTool.ffmpeg != nil, "ffmpeg CLI is not on PATH"))
    func decodesGreyAndAlphaPNGs() throws {
        guard let ffmpeg = ExternalTool.ffmpeg else { return }
        var rng = SplitMix(seed: 5)
        let grey = rng.bytes(6 * 4)
        let rgba = rng.bytes(6 * 4 * 4)
        try withTemporaryDirectory { dir in
            for (name, format, bytes) in [("grey.png", "gray", grey), ("alpha.png", "rgba", rgba)] {
                let path = dir + "/" + name
                let made = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-y",
                                                         "-f", "rawvideo", "-pix_fmt", format, "-s", "6x4", "-i", "-",
                                                         "-frames:v", "1", "-pix_fmt", format, path],
                                                stdin: Data(bytes))
                try #require(made.status == 0)
                let expected = format == "gray"
                    ? grey.flatMap { [$0, $0, $0] }
                    : (0..<24).flatMap { Array(rgba[$0 * 4..<$0 * 4 + 3]) }
                #expect(try ImageDecoder.decode(path: path) == RGBImage(width: 6, height: 4, pixels: expected), "\(name)")
            }
        }
    }

    @Test(.enabled(if: ExternalTool.ffmpeg != nil, "ffmpeg CLI is not on PATH"))
    func rejectsFileWithoutVideo() throws {
        guard let ffmpeg = ExternalTool.ffmpeg else { return }
        try withTemporaryDirectory { dir in
            let wav = dir + "/tone.wav"
            let made = try ExternalTool.run(ffmpeg, ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                                                     "-i", "sine=frequency=440:duration=0.1", wav])
            try #require(made.status == 0)
            let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: wav) }
            #expect(error?.message == "'\(wav)' is not an image FFmpeg can decode (no video stream)")
        }
    }

    @Test func missingFileNamesPathAndReason() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/absent.png"
            let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: path) }
            #expect(error?.message == "cannot read image '\(path)': No such file or directory")
        }
    }

    @Test func directoryIsRejected() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: dir) }
            #expect(error?.message.contains("'\(dir)'") == true)
        }
    }

    @Test func emptyFileIsRejected() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/empty.png"
            _ = FileManager.default.createFile(atPath: path, contents: Data())
            let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: path) }
            #expect(error?.message.hasPrefix("'\(path)' is not an image FFmpeg can decode (") == true)
        }
    }

    @Test func randomBytesAreRejected() throws {
        var rng = SplitMix(seed: 7)
        try withTemporaryDirectory { dir in
            for name in ["noise.png", "noise.jpg", "noise.bin"] {
                let path = dir + "/" + name
                _ = FileManager.default.createFile(atPath: path, contents: Data(rng.bytes(4096)))
                let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: path) }
                #expect(error?.message.contains("'\(path)'") == true)
            }
        }
    }

    /// Long plain text is what FFmpeg's "tty" demuxer renders as ANSI art; it must not pass as a photo.
    @Test func textFileIsRejected() throws {
        let text = (1...200).map { "line \($0): the quick brown fox jumps over the lazy dog" }.joined(separator: "\n")
        try withTemporaryDirectory { dir in
            for name in ["notes.txt", "short.txt"] {
                let path = dir + "/" + name
                let body = name == "short.txt" ? "hello\n" : text
                _ = FileManager.default.createFile(atPath: path, contents: Data(body.utf8))
                let error = #expect(throws: MediaError.self) { try ImageDecoder.decode(path: path) }
                #expect(error?.message.hasPrefix("'\(path)' is not an image FFmpeg can decode (") == true)
            }
        }
    }

    @Test func decodingTwiceGivesSameResultAndLeavesNoState() throws {
        var rng = SplitMix(seed: 11)
        let image = RGBImage(width: 8, height: 8, pixels: rng.bytes(8 * 8 * 3))
        try withTemporaryDirectory { dir in
            let path = dir + "/a.png"
            try PNGWriter.write(image, to: path)
            for _ in 0..<20 {
                #expect(try ImageDecoder.decode(path: path) == image)
                #expect(throws: MediaError.self) { try ImageDecoder.decode(path: dir + "/missing.png") }
            }
        }
    }
}
