import Foundation
import Synchronization
import Testing
@testable import SNNAMedia

/// What `VideoReader` refuses to open, and what it still opens: the documented containers only, regular files only
/// (never blocking on a FIFO), symlinks followed, frame sizes bounded.
@Suite(.enabled(if: VideoTools.available, "ffmpeg/ffprobe CLI not on PATH"))
struct VideoInputSafetyTests {
    static let small = VideoTools.testsrc("160x120", seconds: 1)

    struct Container: Sendable, CustomTestStringConvertible {
        var file: String
        var arguments: [String]
        var demuxer: String
        var testDescription: String { file }
    }

    static let supported: [Container] = [
        Container(file: "clip.mp4", arguments: VideoTools.x264, demuxer: "mov,mp4,m4a,3gp,3g2,mj2"),
        Container(file: "clip.mov", arguments: VideoTools.x264, demuxer: "mov,mp4,m4a,3gp,3g2,mj2"),
        Container(file: "clip.3gp", arguments: VideoTools.x264, demuxer: "mov,mp4,m4a,3gp,3g2,mj2"),
        Container(file: "clip.mkv", arguments: VideoTools.x264, demuxer: "matroska,webm"),
        Container(file: "clip.webm", arguments: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
                  demuxer: "matroska,webm"),
        Container(file: "clip.ts", arguments: VideoTools.x264 + ["-f", "mpegts"], demuxer: "mpegts"),
        Container(file: "clip.m2ts", arguments: VideoTools.x264 + ["-f", "mpegts", "-mpegts_m2ts_mode", "1"],
                  demuxer: "mpegts"),
        Container(file: "clip.avi", arguments: ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"], demuxer: "avi"),
    ]

    @Test(arguments: supported) func documentedContainerOpens(container: Container) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/" + container.file
            try VideoTools.ffmpeg(Self.small + container.arguments + [path])
            let decoded = try VideoTools.decodeAll(path)
            #expect(decoded.info.container == container.demuxer)
            #expect(decoded.frames.count == 30)
            #expect(!decoded.truncated, "\(decoded.warnings)")
        }
    }

    /// Every refusal names the file, the container FFmpeg recognised and the supported list, on one line.
    static func expectRefused(_ path: String, demuxer: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: MediaError.self, sourceLocation: sourceLocation) { _ = try VideoReader(path: path) }
        let message = error?.message ?? ""
        #expect(message == "'\(path)' is in a container snna does not open: \(demuxer); "
                + "supported: MP4/MOV/3GP, Matroska/WebM, MPEG-TS/M2TS, AVI", sourceLocation: sourceLocation)
    }

    @Test func otherContainersAreRefusedByName() throws {
        try withTemporaryDirectory { dir in
            let flv = dir + "/clip.flv", raw = dir + "/clip.h264", segment = dir + "/segment.ts"
            try VideoTools.ffmpeg(Self.small + VideoTools.x264 + [flv])
            try VideoTools.ffmpeg(Self.small + VideoTools.x264 + ["-f", "h264", raw])
            try VideoTools.ffmpeg(Self.small + VideoTools.x264 + ["-f", "mpegts", segment])
            #expect(try VideoTools.probe(["-show_entries", "format=format_name", "-of", "csv=p=0", flv]).contains("flv"))
            Self.expectRefused(flv, demuxer: "flv (FLV (Flash Video))")
            Self.expectRefused(raw, demuxer: "h264 (raw H.264 video)")

            // A playlist and a concat script are text that makes FFmpeg open other files (or URLs): the segment
            // itself opens, the files pointing at it do not.
            let playlist = dir + "/list.m3u8", script = dir + "/list.ffconcat"
            try "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\nsegment.ts\n#EXT-X-ENDLIST\n"
                .write(toFile: playlist, atomically: true, encoding: .utf8)
            try "ffconcat version 1.0\nfile segment.ts\n".write(toFile: script, atomically: true, encoding: .utf8)
            // The ffmpeg CLI, which has no whitelist, reads the segment through both: they are what they claim.
            for listing in [playlist, script] {
                let frames = try VideoTools.probe(["-count_frames", "-select_streams", "v:0", "-show_entries",
                                                   "stream=nb_read_frames", "-of", "csv=p=0", listing])
                #expect(frames.split(whereSeparator: \.isNewline).first == "30", "\(listing): \(frames)")
            }
            #expect(try VideoReader(path: segment).info.container == "mpegts")
            Self.expectRefused(playlist, demuxer: "hls (Apple HTTP Live Streaming)")
            Self.expectRefused(script, demuxer: "concat (Virtual concatenation script)")
        }
    }

    /// Opens on another thread and waits at most `seconds`: a reader that blocks must fail the test, not hang it.
    static func openWithin(_ seconds: Double, _ path: String, release: () -> Void) -> (finished: Bool, message: String?) {
        let outcome = Mutex<String??>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let message: String?
            do { _ = try VideoReader(path: path); message = nil } catch { message = (error as? MediaError)?.message ?? "\(error)" }
            outcome.withLock { $0 = .some(message) }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else {
            release()
            _ = done.wait(timeout: .now() + 10)
            return (false, nil)
        }
        return (true, outcome.withLock { $0 } ?? nil)
    }

    @Test func fifoIsRefusedAtOnce() throws {
        try withTemporaryDirectory { dir in
            let fifo = dir + "/clip.mp4"
            try #require(mkfifo(fifo, 0o600) == 0)
            let started = Date()
            let result = Self.openWithin(5, fifo) {
                // A blocked open(2) of the FIFO returns once a writer appears.
                let writer = open(fifo, O_WRONLY | O_NONBLOCK)
                if writer >= 0 { close(writer) }
            }
            #expect(result.finished, "opening a FIFO blocked")
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(result.message == "cannot read video '\(fifo)': it is a FIFO, not a regular file")
        }
    }

    @Test func socketAndDeviceAreRefused() throws {
        try withTemporaryDirectory { dir in
            let socketPath = dir + "/s.mp4"
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            try #require(fd >= 0)
            defer { close(fd) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in socketPath.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0)
            let socketResult = Self.openWithin(5, socketPath) {}
            #expect(socketResult.message == "cannot read video '\(socketPath)': it is a socket, not a regular file")

            let deviceResult = Self.openWithin(5, "/dev/zero") {}
            #expect(deviceResult.message == "cannot read video '/dev/zero': it is a character device, not a regular file")
        }
    }

    @Test func symlinkToAClipIsFollowed() throws {
        try withTemporaryDirectory { dir in
            let clip = dir + "/real.mp4"
            try VideoTools.ffmpeg(Self.small + VideoTools.x264 + [clip])
            try FileManager.default.createDirectory(atPath: dir + "/links", withIntermediateDirectories: true)
            let link = dir + "/links/link.mp4", chain = dir + "/chain.mp4", dangling = dir + "/dangling.mp4"
            #expect(symlink("../real.mp4", link) == 0)  // relative, resolved from the link's folder
            #expect(symlink(link, chain) == 0)
            #expect(symlink(dir + "/gone.mp4", dangling) == 0)
            for path in [link, chain] {
                let decoded = try VideoTools.decodeAll(path)
                #expect(decoded.frames.count == 30)
                #expect(decoded.info.path == path, "messages keep naming what the user passed")
                #expect(!decoded.truncated)
            }
            let error = #expect(throws: MediaError.self) { _ = try VideoReader(path: dangling) }
            #expect(error?.message == "cannot read video '\(dangling)': No such file or directory")
        }
    }

    /// A cut file is still recognised as cut (the container check reads the opened inode, not the path).
    @Test func truncationIsStillDetectedThroughTheDescriptor() throws {
        try withTemporaryDirectory { dir in
            let whole = dir + "/whole.mkv", cut = dir + "/cut.mkv"
            try VideoTools.ffmpeg(VideoTools.testsrc("160x120", seconds: 2) + VideoTools.x264 + [whole])
            try VideoTools.cut(whole, fraction: 0.6, to: cut)
            let decoded = try VideoTools.decodeAll(cut)
            #expect(decoded.truncated)
            #expect(decoded.warnings.contains { $0.contains("Matroska") }, "\(decoded.warnings)")
        }
    }

    @Test(arguments: ["clip.mp4", "clip.ts"]) func framesAboveTheLimitAreRefused(file: String) throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/" + file
            try VideoTools.ffmpeg(VideoTools.testsrc("320x240", seconds: 1) + VideoTools.x264
                                  + (file.hasSuffix(".ts") ? ["-f", "mpegts"] : []) + [path])
            let error = #expect(throws: MediaError.self) { _ = try VideoReader(path: path, maxFramePixels: 10_000) }
            #expect(error?.message == "'\(path)': frames of 320×240 exceed max_frame_pixels (10000)")
            let justBelow = #expect(throws: MediaError.self) { _ = try VideoReader(path: path, maxFramePixels: 76_799) }
            #expect(justBelow?.message.contains("exceed max_frame_pixels (76799)") == true)

            // Exactly at the limit: accepted, every frame decoded.
            let reader = try VideoReader(path: path, maxFramePixels: 320 * 240)
            var frames = 0
            while let frame = try reader.next() {
                #expect(frame.image.width == 320 && frame.image.height == 240)
                frames += 1
            }
            #expect(frames == 30)
            #expect(!reader.truncated, "\(reader.warnings)")
        }
    }

    /// A stream that starts small and grows (two recordings joined): the decoder itself refuses the larger frames,
    /// so they are never decoded; like any decode error they are reported in a warning.
    @Test func largerFramesMidStreamAreRefusedByTheDecoder() throws {
        try withTemporaryDirectory { dir in
            let small = dir + "/small.ts", large = dir + "/large.ts", joined = dir + "/joined.ts"
            try VideoTools.ffmpeg(VideoTools.testsrc("64x48", seconds: 1) + VideoTools.x264 + ["-f", "mpegts", small])
            try VideoTools.ffmpeg(VideoTools.testsrc("320x240", seconds: 1) + VideoTools.x264
                                  + ["-output_ts_offset", "2", "-f", "mpegts", large])
            var bytes = try Data(contentsOf: URL(fileURLWithPath: small))
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: large)))
            try bytes.write(to: URL(fileURLWithPath: joined))

            // Without a tight limit every frame of both parts decodes (the larger ones scaled to the first size).
            let whole = try VideoTools.decodeAll(joined)
            #expect(whole.info.width == 64 && whole.info.height == 48)
            #expect(whole.frames.count == 60, "\(whole.warnings)")

            let reader = try VideoReader(path: joined, maxFramePixels: 64 * 48)
            var seconds: [Double] = []
            while let frame = try reader.next() { seconds.append(frame.seconds) }
            #expect(seconds.count == 30, "only the small part: \(seconds.count) frames")
            let firstLarge = whole.frames[30].seconds
            #expect(seconds.allSatisfy { $0 < firstLarge })
            #expect(reader.warnings.contains { $0.contains("decode error") }, "\(reader.warnings)")
            #expect(whole.warnings.isEmpty, "\(whole.warnings)")
        }
    }

    @Test func limitMustBePositive() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/clip.mp4"
            try VideoTools.ffmpeg(Self.small + VideoTools.x264 + [path])
            let error = #expect(throws: MediaError.self) { _ = try VideoReader(path: path, maxFramePixels: 0) }
            #expect(error?.message == "max_frame_pixels must be positive, not 0")
        }
    }
}
