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
