import CFFmpeg
import Glibc

/// Decodes the best video stream of a file frame by frame into upright RGB24 pictures.
///
/// Dashcam files are often cut by power loss, so the end of the data is treated as information rather than
/// an error: the reader decodes what is there, flushes the decoder so no tail frame is lost, and then
/// reports `truncated` with a human-readable warning. Only files with nothing decodable at all throw.
/// Not thread-safe: use one reader from one task at a time.
public final class VideoReader {
    public let info: VideoInfo
    /// True when the file ended in damage: a read error other than EOF, decode errors on the tail, or the
    /// container's own structure extending past the end of the file (a cut MP4 fragment, MKV cluster, TS packet).
    public private(set) var truncated = false
    /// Human-readable, one line each, e.g. "file is damaged after frame 54 (…); processed up to there"
    /// (the number counts the frames delivered).
    public private(set) var warnings: [String] = []

    /// The file, open for the reader's lifetime: FFmpeg reads through it, `ContainerCheck` re-opens its inode.
    /// Released after `format` (stored properties outlive deinit's body).
    private let input: VideoInput
    /// Frames larger than this many pixels are refused (see `init`).
    public let maxFramePixels: Int
    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codecContext: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private let streamIndex: Int32
    private let converter: RGBConverter
    /// Used where neither the frame nor its successor says how long it lasts.
    private let fallbackDuration: Int64

    private var demuxDone = false
    private var flushSent = false
    private var finished = false
    private var readError: Int32 = 0
    private var decodeErrorsSinceLastFrame = 0
    private var lastDecodeError: Int32 = 0
    private var midStreamDecodeErrors = 0
    private var lastFrameDamaged = false
    private var framesDecoded = 0
    private var lastPTS: Int64?
    /// A frame whose duration is not yet known (it needs its successor's pts).
    private var pending: VideoFrame?

    /// 8192×8192: above 8K UHD (7680×4320), far above any dashcam, and an RGB frame of it is 192 MiB.
    public static let defaultMaxFramePixels = 8192 * 8192

    /// Opens `path`, which must be a regular file (a symlink to one is followed) in one of the
    /// `SupportedContainers`, whose video frames have at most `maxFramePixels` pixels: a larger stream is refused
    /// before anything of its size is allocated, and the decoder refuses larger frames that appear mid-stream
    /// (they count as decode errors, reported like damage: FFmpeg's h264 decoder gives no distinct error for them).
    /// FFmpeg's decoders take at most Int32.max pixels whatever the limit.
    public init(path: String, maxFramePixels: Int = VideoReader.defaultMaxFramePixels) throws {
        FFmpegSupport.quietLog()
        guard maxFramePixels > 0 else { throw MediaError("max_frame_pixels must be positive, not \(maxFramePixels)") }
        let input = try VideoInput(path: path, notDecodable: VideoReader.notDecodable)
        let format = try VideoReader.openFormat(input)
        var closeOnError = true
        defer {
            if closeOnError { var owned: UnsafeMutablePointer<AVFormatContext>? = format; avformat_close_input(&owned) }
            // The format context reads through `input`'s AVIOContext: keep it alive until the context is closed
            // (ARC may otherwise end a local's life at its last use).
            withExtendedLifetime(input) {}
        }
        let decoderPixels = min(maxFramePixels, Int(Int32.max))

        // Finding the stream parameters decodes a first frame of each stream: with the pixel limit already, so an
        // oversized stream is not decoded even once.
        var rc = VideoReader.findStreamInfo(format, maxPixels: decoderPixels)
        guard rc >= 0 else { throw VideoReader.notDecodable(path, FFmpegSupport.errorText(rc)) }

        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        guard index >= 0, let stream = format.pointee.streams[Int(index)] else {
            let reason: String
            if index == FFmpegSupport.streamNotFound { reason = "no video stream" }
            else if index == FFmpegSupport.decoderNotFound { reason = "no decoder for its video stream" }
            else { reason = FFmpegSupport.errorText(index) }
            throw VideoReader.notDecodable(path, reason)
        }
        guard let decoder else { throw VideoReader.notDecodable(path, "no decoder for its video stream") }
        // FFmpeg renders plain text as ANSI art and an m4a's cover as a one-picture "video"; neither is footage.
        guard decoder.pointee.id != AV_CODEC_ID_ANSI else { throw VideoReader.notDecodable(path, "text file, not a video") }
        guard stream.pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw VideoReader.notDecodable(path, "no video stream, only cover art")
        }
        let announced = stream.pointee.codecpar.pointee
        if announced.width > 0 && announced.height > 0 {
            let (pixels, overflow) = Int(announced.width).multipliedReportingOverflow(by: Int(announced.height))
            guard !overflow, pixels <= maxFramePixels else {
                throw MediaError("'\(path)': frames of \(announced.width)×\(announced.height) exceed max_frame_pixels (\(maxFramePixels))")
            }
        }
        for i in 0..<Int(format.pointee.nb_streams) where i != Int(index) {
            format.pointee.streams[i]?.pointee.discard = AVDISCARD_ALL
        }

        var context = avcodec_alloc_context3(decoder)
        guard let codecContext = context else { throw VideoReader.notDecodable(path, "out of memory") }
        var freeContextOnError = true
        defer { if freeContextOnError { avcodec_free_context(&context) } }
        rc = avcodec_parameters_to_context(codecContext, stream.pointee.codecpar)
        guard rc >= 0 else { throw VideoReader.notDecodable(path, FFmpegSupport.errorText(rc)) }
        codecContext.pointee.pkt_timebase = stream.pointee.time_base
        // Two threads: enough for 4K HEVC to outrun a ViT by far, without competing with the engine's workers.
        codecContext.pointee.thread_count = 2
        // The decoder refuses (as a decode error) any frame above the limit, e.g. after a mid-stream size change.
        codecContext.pointee.max_pixels = Int64(decoderPixels)
        rc = avcodec_open2(codecContext, decoder, nil)
        guard rc >= 0 else { throw VideoReader.notDecodable(path, FFmpegSupport.errorText(rc)) }

        let packet = av_packet_alloc()
        let frame = av_frame_alloc()
        guard let packet, let frame else {
            var p = packet; av_packet_free(&p)
            var f = frame; av_frame_free(&f)
            throw VideoReader.notDecodable(path, "out of memory")
        }

        let par = stream.pointee.codecpar.pointee
        let rotation = VideoReader.rotation(of: stream)
        let codedWidth = Int(par.width), codedHeight = Int(par.height)
        let swap = rotation == 90 || rotation == 270
        let timeBase = stream.pointee.time_base
        var rate = stream.pointee.avg_frame_rate
        if rate.num <= 0 || rate.den <= 0 { rate = stream.pointee.r_frame_rate }
        let fps = rate.num > 0 && rate.den > 0 ? av_q2d(rate) : 0
        var duration: Double?
        if stream.pointee.duration != cff_nopts_value() && stream.pointee.duration > 0 {
            duration = Double(stream.pointee.duration) * av_q2d(timeBase)
        } else if format.pointee.duration != cff_nopts_value() && format.pointee.duration > 0 {
            duration = Double(format.pointee.duration) / Double(AV_TIME_BASE)
        }
        var frameCount: Int?
        if stream.pointee.nb_frames > 0 {
            frameCount = Int(stream.pointee.nb_frames)
        } else if let duration, fps > 0 {
            // A header can claim any duration: only a representable estimate is kept.
            let estimate = (duration * fps).rounded()
            if estimate.isFinite && estimate >= 0 && estimate < 1e15 { frameCount = Int(estimate) }
        }
        let info = VideoInfo(
            path: path,
            container: String(cString: format.pointee.iformat.pointee.name),
            codec: String(cString: decoder.pointee.name),
            width: swap ? codedHeight : codedWidth, height: swap ? codedWidth : codedHeight,
            rotation: rotation, frameRate: fps,
            timeBaseNumerator: timeBase.num, timeBaseDenominator: timeBase.den,
            duration: duration, frameCountEstimate: frameCount)
        guard codedWidth > 0, codedHeight > 0, timeBase.num > 0, timeBase.den > 0 else {
            var p: UnsafeMutablePointer<AVPacket>? = packet; av_packet_free(&p)
            var f: UnsafeMutablePointer<AVFrame>? = frame; av_frame_free(&f)
            throw VideoReader.notDecodable(path, "video stream has no size or time base")
        }

        var ticks: Int64 = 1
        if fps > 0 {
            // A frame rate or time base from the file can make this anything, infinity included.
            let perFrame = (1 / fps / av_q2d(timeBase)).rounded()
            if perFrame.isFinite && perFrame >= 1 && perFrame < 1e15 { ticks = Int64(perFrame) }
        }
        let converter: RGBConverter
        do { converter = try RGBConverter(width: codedWidth, height: codedHeight, rotation: rotation, path: path) } catch {
            var p: UnsafeMutablePointer<AVPacket>? = packet; av_packet_free(&p)
            var f: UnsafeMutablePointer<AVFrame>? = frame; av_frame_free(&f)
            throw error
        }
        self.fallbackDuration = ticks
        self.info = info
        self.input = input
        self.maxFramePixels = maxFramePixels
        self.streamIndex = index
        self.converter = converter
        self.format = format
        self.codecContext = codecContext
        self.packet = packet
        self.frame = frame
        closeOnError = false
        freeContextOnError = false
        // From here on deinit releases everything.

        // A video stream with nothing decodable is an unreadable file, not an empty video: find out now.
        guard let first = try decodeOne() else {
            let reason = readError != 0 ? FFmpegSupport.errorText(readError)
                : lastDecodeError != 0 ? FFmpegSupport.errorText(lastDecodeError) : "no frame could be decoded"
            throw MediaError("'\(path)' has a video stream but no decodable frame (\(reason))")
        }
        pending = first
    }

    deinit {
        av_packet_free(&packet)
        av_frame_free(&frame)
        avcodec_free_context(&codecContext)
        avformat_close_input(&format)
    }

    /// The next frame in presentation order, or nil after the last one (the decoder has been drained).
    public func next() throws -> VideoFrame? {
        while true {
            if let current = pending, current.duration > 0 {
                pending = nil
                return current
            }
            if let decoded = try decodeOne() {
                guard var previous = pending else { pending = decoded; continue }
                let (gap, overflow) = decoded.pts.subtractingReportingOverflow(previous.pts)
                previous.duration = gap > 0 && !overflow ? gap : fallbackDuration
                pending = decoded
                return previous
            }
            guard var last = pending else { return nil }
            last.duration = fallbackDuration
            pending = nil
            return last
        }
    }

    // MARK: - Decoding

    /// Decodes the next frame (duration 0 when the file does not say), or returns nil at the end, having
    /// recorded how the stream ended.
    private func decodeOne() throws -> VideoFrame? {
        guard !finished, let format, let codecContext, let packet, let frame else { return nil }
        var receiveErrors = 0
        while true {
            let received = avcodec_receive_frame(codecContext, frame)
            if received >= 0 {
                defer { av_frame_unref(frame) }
                return try makeFrame(frame)
            }
            if received == cff_averror_eof() {
                finish()
                return nil
            }
            if received != cff_averror_eagain() {
                noteDecodeError(received)
                receiveErrors += 1
                // Decoding errors are reported once; a decoder that keeps failing has nothing more to give.
                if receiveErrors < 64 { continue }
                finish()
                return nil
            }
            if demuxDone {
                if flushSent { finish(); return nil }
                flushSent = true
                _ = avcodec_send_packet(codecContext, nil)
                continue
            }
            let read = av_read_frame(format, packet)
            if read < 0 {
                if read != cff_averror_eof() { readError = read }
                demuxDone = true
                continue
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codecContext, packet)
            if sent < 0 && sent != cff_averror_eagain() { noteDecodeError(sent) }
        }
    }

    private func noteDecodeError(_ code: Int32) {
        decodeErrorsSinceLastFrame += 1
        lastDecodeError = code
    }

    private func makeFrame(_ frame: UnsafeMutablePointer<AVFrame>) throws -> VideoFrame {
        if decodeErrorsSinceLastFrame > 0 && framesDecoded > 0 { midStreamDecodeErrors += decodeErrorsSinceLastFrame }
        decodeErrorsSinceLastFrame = 0
        lastFrameDamaged = frame.pointee.decode_error_flags != 0 || frame.pointee.flags & AV_FRAME_FLAG_CORRUPT != 0

        var pts = frame.pointee.best_effort_timestamp
        if pts == cff_nopts_value() {
            if let lastPTS {
                let (next, overflow) = lastPTS.addingReportingOverflow(fallbackDuration)
                pts = overflow ? lastPTS : next
            }
            else {
                let start = format?.pointee.streams[Int(streamIndex)]?.pointee.start_time ?? cff_nopts_value()
                pts = start == cff_nopts_value() ? 0 : start
            }
        }
        lastPTS = pts
        let image = try converter.convert(frame, path: info.path)
        let duration = max(0, frame.pointee.pkt_duration)
        let index = framesDecoded
        framesDecoded += 1
        return VideoFrame(index: index, pts: pts, seconds: Double(pts) * info.secondsPerTick,
                          duration: duration, image: image)
    }

    /// Records why the stream ended, once.
    private func finish() {
        guard !finished else { return }
        finished = true
        let after = "after frame \(framesDecoded)"
        if midStreamDecodeErrors > 0 {
            warnings.append("\(midStreamDecodeErrors) decode error(s) inside '\(info.path)' were concealed; decoding went on")
        }

        if readError != 0 {
            truncated = true
            warnings.append("file is damaged \(after) (\(FFmpegSupport.errorText(readError))); processed up to there")
        } else if let cut = ContainerCheck.truncation(path: input.inodePath) {
            truncated = true
            warnings.append("file is cut off \(after) (\(cut)); processed up to there")
        }
        if decodeErrorsSinceLastFrame > 0 || lastFrameDamaged {
            let reason = lastDecodeError != 0 ? FFmpegSupport.errorText(lastDecodeError) : "damaged last frame"
            if !truncated {
                warnings.append("file is damaged \(after) (\(reason)); processed up to there")
            }
            truncated = true
        }
    }

    // MARK: - Opening

    /// Probes the container from the file's first bytes (probing only runs each demuxer's scoring function over a
    /// buffer; no header is parsed and nothing is opened), refuses
    /// any but the supported ones by name, and opens the demuxer on our descriptor. FFmpeg also gets the lists
    /// themselves: `format_whitelist` so no other demuxer can be opened on this context, and `protocol_whitelist`
    /// so a demuxer that opens a further file by name (none of ours does with its default options, e.g. the mov
    /// demuxer's drefs are off) can reach local files only, never a network URL.
    private static func openFormat(_ input: VideoInput) throws -> UnsafeMutablePointer<AVFormatContext> {
        let path = input.path
        var detected: UnsafePointer<AVInputFormat>?
        let score = av_probe_input_buffer2(input.io, &detected, path, nil, 0, 0)
        guard score >= 0, let detected else { throw openError(input, score) }
        let name = String(cString: detected.pointee.name)
        guard SupportedContainers.isSupported(demuxer: name) else {
            // FFmpeg reads plain text as ANSI art ("tty"); that is a mistake of kind, not of container.
            if name == "tty" { throw notDecodable(path, "text file, not a video") }
            let long = detected.pointee.long_name.map { " (\(String(cString: $0)))" } ?? ""
            throw MediaError("'\(path)' is in a container snna does not open: \(name)\(long); "
                             + "supported: \(SupportedContainers.description)")
        }
        guard let context = avformat_alloc_context() else { throw notDecodable(path, "out of memory") }
        context.pointee.pb = input.io  // custom I/O: avformat_close_input leaves it to `input`
        context.pointee.format_whitelist = av_strdup(SupportedContainers.ffmpegWhitelist)
        context.pointee.protocol_whitelist = av_strdup("file")
        var opened: UnsafeMutablePointer<AVFormatContext>? = context
        let rc = avformat_open_input(&opened, path, detected, nil)  // frees the context itself on failure
        guard rc >= 0, let format = opened else { throw openError(input, rc) }
        return format
    }

    /// avformat_find_stream_info with `max_pixels` for the decoders it opens (one AVDictionary, opaque to Swift, per
    /// stream).
    private static func findStreamInfo(_ format: UnsafeMutablePointer<AVFormatContext>, maxPixels: Int) -> Int32 {
        let count = Int(format.pointee.nb_streams)
        var options = [OpaquePointer?](repeating: nil, count: max(count, 1))
        for i in 0..<count { av_dict_set(&options[i], "max_pixels", String(maxPixels), 0) }
        defer { for i in options.indices { av_dict_free(&options[i]) } }
        return options.withUnsafeMutableBufferPointer { avformat_find_stream_info(format, $0.baseAddress) }
    }

    private static func openError(_ input: VideoInput, _ code: Int32) -> MediaError {
        let path = input.path
        if FFmpegSupport.isSystemError(code) {
            return MediaError("cannot read video '\(path)': \(FFmpegSupport.errorText(code))")
        }
        // The mov demuxer's "moov atom not found" only reaches the log; say it ourselves.
        if ContainerCheck.isISOBMFFWithoutMoov(path: input.inodePath) {
            return notDecodable(path, "moov atom not found: the recording was probably cut off before it was finalised")
        }
        return notDecodable(path, FFmpegSupport.errorText(code))
    }

    private static func notDecodable(_ path: String, _ reason: String) -> MediaError {
        MediaError("'\(path)' is not a video FFmpeg can decode (\(reason))")
    }

    /// Clockwise degrees, computed like the ffmpeg CLI's autorotate (theta = −av_display_rotation_get),
    /// falling back to the legacy "rotate" tag.
    static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
        var theta = 0.0
        var sideSize: Int = 0
        // A display matrix is nine Int32: read it only when the side data is that large.
        if let side = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &sideSize), sideSize >= 9 * 4 {
            let angle = side.withMemoryRebound(to: Int32.self, capacity: 9) { av_display_rotation_get($0) }
            if angle.isFinite { theta = -angle.rounded() }
        } else if let tag = av_dict_get(stream.pointee.metadata, "rotate", nil, 0),
                  let value = Double(String(cString: tag.pointee.value)) {
            theta = value
        }
        theta -= 360 * (theta / 360 + 0.9 / 360).rounded(.down)
        for candidate in [90, 180, 270] where abs(theta - Double(candidate)) < 1 { return candidate }
        return 0
    }
}

/// swscale to RGB24 at the stream's first size (later size changes are scaled back to it), then rotation.
/// One SwsContext is kept per source size/format/range.
final class RGBConverter {
    private static let swsFlags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT
    private let width: Int
    private let height: Int
    private let rotation: Int
    private var sws: OpaquePointer?
    private var key: (Int32, Int32, Int32, Bool) = (0, 0, -1, false)
    private var scratch: [UInt8]
    private let stride: Int

    /// Throws where the buffer size does not fit in an Int (sizes come from the file; the reader's pixel limit
    /// normally keeps them far below that).
    init(width: Int, height: Int, rotation: Int, path: String) throws {
        self.width = width
        self.height = height
        self.rotation = rotation
        let (row, rowOverflow) = width.multipliedReportingOverflow(by: 3)
        let (bytes, overflow) = ((row + 63) & ~63).multipliedReportingOverflow(by: height)
        guard width > 0, height > 0, !rowOverflow, row <= Int.max - 63, !overflow, bytes <= Int.max - 64 else {
            throw MediaError("'\(path)': a frame of \(width)×\(height) is too large to convert")
        }
        stride = (row + 63) & ~63
        scratch = [UInt8](repeating: 0, count: bytes + 64)
    }

    deinit { sws_freeContext(sws) }

    func convert(_ frame: UnsafeMutablePointer<AVFrame>, path: String) throws -> RGBImage {
        let fullRange = frame.pointee.color_range == AVCOL_RANGE_JPEG
        let wanted = (frame.pointee.width, frame.pointee.height, frame.pointee.format, fullRange)
        if sws == nil || wanted != key {
            sws_freeContext(sws)
            let sourceFormat = AVPixelFormat(rawValue: wanted.2)
            sws = sws_getContext(wanted.0, wanted.1, sourceFormat, Int32(width), Int32(height), AV_PIX_FMT_RGB24,
                                 RGBConverter.swsFlags, nil, nil, nil)
            guard let sws else {
                let name = av_get_pix_fmt_name(sourceFormat).map { String(cString: $0) } ?? "unknown"
                throw MediaError("'\(path)': cannot convert pixel format \(name) (\(wanted.0)x\(wanted.1)) to RGB")
            }
            key = wanted
            if fullRange { RGBConverter.applyFullRange(sws, format: sourceFormat) }
        }
        guard let context = sws else { throw MediaError("'\(path)': no pixel converter") }
        let scaled = scratch.withUnsafeMutableBufferPointer { dst in
            FFmpegSupport.scale(context, frame: frame, rows: frame.pointee.height, into: dst.baseAddress!, stride: stride)
        }
        guard scaled == Int32(height) else { throw MediaError("'\(path)': pixel conversion to RGB failed") }
        return rotated()
    }

    /// Compacts the strided scratch rows into an upright picture.
    private func rotated() -> RGBImage {
        let w = width, h = height, stride = self.stride
        let swap = rotation == 90 || rotation == 270
        let outW = swap ? h : w, outH = swap ? w : h
        var pixels = [UInt8](repeating: 0, count: outW * outH * 3)
        pixels.withUnsafeMutableBufferPointer { outBuffer in
            scratch.withUnsafeBufferPointer { srcBuffer in
                let out = outBuffer.baseAddress!, src = srcBuffer.baseAddress!
                switch rotation {
                case 90:   // output (x', y') comes from source (y', h − 1 − x')
                    for y in 0..<outH {
                        var o = out + y * outW * 3
                        for x in 0..<outW {
                            let s = src + (h - 1 - x) * stride + y * 3
                            o[0] = s[0]; o[1] = s[1]; o[2] = s[2]
                            o += 3
                        }
                    }
                case 270:  // output (x', y') comes from source (w − 1 − y', x')
                    for y in 0..<outH {
                        var o = out + y * outW * 3
                        for x in 0..<outW {
                            let s = src + x * stride + (w - 1 - y) * 3
                            o[0] = s[0]; o[1] = s[1]; o[2] = s[2]
                            o += 3
                        }
                    }
                case 180:
                    for y in 0..<h {
                        let row = src + (h - 1 - y) * stride
                        var o = out + y * w * 3
                        for x in 0..<w {
                            let s = row + (w - 1 - x) * 3
                            o[0] = s[0]; o[1] = s[1]; o[2] = s[2]
                            o += 3
                        }
                    }
                default:
                    for y in 0..<h { (out + y * w * 3).update(from: src + y * stride, count: w * 3) }
                }
            }
        }
        return RGBImage(width: outW, height: outH, pixels: pixels)
    }

    /// swscale infers full range only from the deprecated yuvj* formats; a frame tagged full range in any other
    /// format gets it set explicitly, or its blacks and whites would be stretched.
    static func applyFullRange(_ sws: OpaquePointer, format: AVPixelFormat) {
        guard let descriptor = av_pix_fmt_desc_get(format),
              descriptor.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 else { return }
        var inverse: UnsafeMutablePointer<Int32>?
        var table: UnsafeMutablePointer<Int32>?
        var srcRange: Int32 = 0, dstRange: Int32 = 0
        var brightness: Int32 = 0, contrast: Int32 = 0, saturation: Int32 = 0
        guard sws_getColorspaceDetails(sws, &inverse, &srcRange, &table, &dstRange,
                                       &brightness, &contrast, &saturation) >= 0 else { return }
        _ = sws_setColorspaceDetails(sws, inverse, 1, table, dstRange, brightness, contrast, saturation)
    }
}

/// Byte-level checks of container structure that FFmpeg's demuxers do not report: where a box, element
/// or packet claims more bytes than the file holds, the file was cut off.
///
/// Public so that the fuzz target (Fuzz/, a separate package) can reach it: these checks read untrusted files.
public enum ContainerCheck {
    /// A reason when the file's top-level structure runs past its end; nil when it looks whole or unknown.
    public static func truncation(path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        guard fseeko(file, 0, SEEK_END) == 0 else { return nil }
        let size = Int64(ftello(file))
        let head = read(file, at: 0, count: 200)
        guard head.count >= 8 else { return nil }
        if head[0] == 0x1A && head[1] == 0x45 && head[2] == 0xDF && head[3] == 0xA3 {
            return matroskaTruncation(file, size: size)
        }
        if Array(head[0..<4]) == Array("RIFF".utf8) {
            let riffSize = Int64(head[4]) | Int64(head[5]) << 8 | Int64(head[6]) << 16 | Int64(head[7]) << 24
            return 8 + riffSize > size ? "the RIFF chunk declares \(8 + riffSize) bytes, the file has \(size)" : nil
        }
        if head.count >= 189 && head[0] == 0x47 && head[188] == 0x47 {
            return size % 188 != 0 ? "the last MPEG-TS packet is incomplete" : nil
        }
        if head.count >= 197 && head[4] == 0x47 && head[196] == 0x47 {
            return size % 192 != 0 ? "the last M2TS packet is incomplete" : nil
        }
        if isISOBMFF(head) {
            var result: String?
            walkBoxes(file, size: size) { type, start, length in
                // Compared as `length > remaining`: a 64-bit largesize near Int64.max must not overflow the sum.
                if length > size - start {
                    result = "the '\(type)' box at byte \(start) needs \(length) bytes, only \(size - start) remain"
                }
            }
            return result
        }
        return nil
    }

    /// An ISO BMFF file (MP4/MOV) whose top level has no 'moov' box: a recording never finalised.
    public static func isISOBMFFWithoutMoov(path: String) -> Bool {
        guard let file = fopen(path, "rb") else { return false }
        defer { fclose(file) }
        guard fseeko(file, 0, SEEK_END) == 0 else { return false }
        let size = Int64(ftello(file))
        guard isISOBMFF(read(file, at: 0, count: 8)) else { return false }
        var hasMoov = false
        walkBoxes(file, size: size) { type, _, _ in if type == "moov" { hasMoov = true } }
        return !hasMoov
    }

    private static func isISOBMFF(_ head: [UInt8]) -> Bool {
        guard head.count >= 8 else { return false }
        let type = String(decoding: head[4..<8], as: UTF8.self)
        return ["ftyp", "styp", "moov", "mdat", "free", "wide", "skip", "moof"].contains(type)
    }

    /// Calls `body(type, start, length)` for each top-level box; stops at the first box that leaves the file.
    private static func walkBoxes(_ file: UnsafeMutablePointer<FILE>, size: Int64,
                                  _ body: (String, Int64, Int64) -> Void) {
        var offset: Int64 = 0
        var count = 0
        while size - offset >= 8 && count < 1_000_000 {
            count += 1
            let header = read(file, at: offset, count: 16)
            guard header.count >= 8 else { return }
            var length = Int64(header[0]) << 24 | Int64(header[1]) << 16 | Int64(header[2]) << 8 | Int64(header[3])
            // Past the last real box (trailing padding or garbage) the "type" is not text: stop there.
            guard header[4..<8].allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0xA9 }) else { return }
            let type = String(decoding: header[4..<8], as: UTF8.self)
            if length == 1 {
                guard header.count >= 16 else { body(type, offset, 16); return }
                // A largesize past Int64.max (top bit set) is no real box: reading it as UInt64 keeps the shift in range.
                let large = header[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                guard large <= UInt64(Int64.max) else { body(type, offset, Int64.max); return }
                length = Int64(large)
            } else if length == 0 {
                length = size - offset  // "to the end of the file"
            }
            guard length >= 8 else { return }
            body(type, offset, length)
            if length > size - offset { return }
            offset += length
        }
    }

    private static func matroskaTruncation(_ file: UnsafeMutablePointer<FILE>, size: Int64) -> String? {
        var offset: Int64 = 0
        // EBML header, then the Segment.
        guard let ebml = element(file, at: offset), let headerSize = ebml.size else { return nil }
        offset = ebml.dataStart + headerSize
        guard let segment = element(file, at: offset), segment.id == 0x1853_8067 else { return nil }
        if let declared = segment.size, segment.dataStart + declared > size {
            return "the Matroska segment declares \(segment.dataStart + declared) bytes, the file has \(size)"
        }
        let end = segment.size.map { min(size, segment.dataStart + $0) } ?? size
        offset = segment.dataStart
        var count = 0
        while offset < end && count < 10_000_000 {
            count += 1
            guard let child = element(file, at: offset) else {
                return "the Matroska element at byte \(offset) is cut off"
            }
            guard let length = child.size else { return nil }  // unknown size (live recording): cannot tell
            if child.dataStart + length > size {
                return "the Matroska element at byte \(offset) needs \(child.dataStart + length - offset) bytes, only \(size - offset) remain"
            }
            offset = child.dataStart + length
        }
        return nil
    }

    /// An EBML element header: id (with its length marker), data size (nil = unknown) and where the data starts.
    private static func element(_ file: UnsafeMutablePointer<FILE>, at offset: Int64)
        -> (id: UInt32, size: Int64?, dataStart: Int64)? {
        let bytes = read(file, at: offset, count: 12)
        guard let first = bytes.first, first != 0 else { return nil }
        let idLength = first.leadingZeroBitCount + 1
        guard idLength <= 4, bytes.count > idLength else { return nil }
        let id = bytes[0..<idLength].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let sizeFirst = bytes[idLength]
        guard sizeFirst != 0 else { return nil }
        let sizeLength = sizeFirst.leadingZeroBitCount + 1
        guard bytes.count >= idLength + sizeLength else { return nil }
        var value = Int64(sizeFirst & (0xFF >> sizeLength))
        var allOnes = value == Int64(0xFF >> sizeLength)
        for byte in bytes[(idLength + 1)..<(idLength + sizeLength)] {
            value = value << 8 | Int64(byte)
            allOnes = allOnes && byte == 0xFF
        }
        return (id, allOnes ? nil : value, offset + Int64(idLength + sizeLength))
    }

    private static func read(_ file: UnsafeMutablePointer<FILE>, at offset: Int64, count: Int) -> [UInt8] {
        guard fseeko(file, off_t(offset), SEEK_SET) == 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let got = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, file) }
        return Array(buffer[0..<got])
    }
}
