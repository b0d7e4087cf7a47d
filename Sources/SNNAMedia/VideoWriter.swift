import CFFmpeg
import Glibc

/// Encodes RGB pictures as H.264 (libx264, yuv420p, preset veryfast, crf 20) in a plain MP4 with
/// `+faststart` (moov moved to the front by the trailer pass, so the finished file streams and plays anywhere).
///
/// Crash safety comes from the temporary file, not from fragmentation: everything is written to
/// `.<name>.partial-<pid>` in the destination folder and renamed to `path` only by `finish()`, so `path`
/// never holds a half-written video. `abandon()` (or deinit without `finish()`) deletes the temporary file.
///
/// H.264 4:2:0 needs even sizes: an odd width or height is padded to the next even number by repeating the
/// last column/row, so a 101x75 input gives a 102x76 video.
/// Not thread-safe: use one writer from one task at a time.
public final class VideoWriter {
    public let path: String
    public let temporaryPath: String
    /// The encoded size (input size rounded up to even).
    public let encodedWidth: Int
    public let encodedHeight: Int
    private let width: Int
    private let height: Int

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var encoder: UnsafeMutablePointer<AVCodecContext>?
    private var stream: UnsafeMutablePointer<AVStream>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var sws: OpaquePointer?
    private var padded: [UInt8]
    private var durations: [Int64: Int64] = [:]
    private var lastPTS: Int64?
    private var lastDuration: Int64 = 1
    private var done = false

    public init(path: String, width: Int, height: Int, timeBaseNumerator: Int32, timeBaseDenominator: Int32,
                frameRate: Double) throws {
        FFmpegSupport.quietLog()
        guard width > 0, height > 0 else { throw MediaError("cannot write video '\(path)': size \(width)x\(height)") }
        guard timeBaseNumerator > 0, timeBaseDenominator > 0 else {
            throw MediaError("cannot write video '\(path)': time base \(timeBaseNumerator)/\(timeBaseDenominator)")
        }
        self.path = path
        self.width = width
        self.height = height
        encodedWidth = (width + 1) & ~1
        encodedHeight = (height + 1) & ~1
        // swscale's RGB24 reader loads past the last pixel (4 to 22 bytes, measured with a guard page): the source
        // it reads always has this slack after the picture.
        padded = [UInt8](repeating: 0, count: encodedWidth * encodedHeight * 3 + Self.sourceSlack)
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(folder).\(name).partial-\(getpid())"

        // From here deinit cleans up whatever was made, also when init throws.
        var output: UnsafeMutablePointer<AVFormatContext>?
        var rc = avformat_alloc_output_context2(&output, nil, "mp4", temporaryPath)
        guard rc >= 0, let output else { throw fail("cannot create an MP4 muxer", rc) }
        format = output
        guard let codec = avcodec_find_encoder_by_name("libx264") else {
            throw fail("this FFmpeg has no libx264 encoder", 0)
        }
        guard let stream = avformat_new_stream(output, nil), let encoder = avcodec_alloc_context3(codec) else {
            throw fail("out of memory", 0)
        }
        self.stream = stream
        self.encoder = encoder
        let timeBase = AVRational(num: timeBaseNumerator, den: timeBaseDenominator)
        encoder.pointee.width = Int32(encodedWidth)
        encoder.pointee.height = Int32(encodedHeight)
        encoder.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        encoder.pointee.time_base = timeBase
        if frameRate > 0 { encoder.pointee.framerate = av_d2q(frameRate, 100_000) }
        encoder.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        // swscale's RGB→YUV uses the BT.601 matrix in limited range; say so, so players invert the same one.
        encoder.pointee.color_range = AVCOL_RANGE_MPEG
        encoder.pointee.colorspace = AVCOL_SPC_SMPTE170M
        encoder.pointee.color_primaries = AVCOL_PRI_SMPTE170M
        encoder.pointee.color_trc = AVCOL_TRC_SMPTE170M
        if output.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 {
            encoder.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER
        }
        _ = av_opt_set(encoder.pointee.priv_data, "preset", "veryfast", 0)
        _ = av_opt_set(encoder.pointee.priv_data, "crf", "20", 0)
        // One x264 thread: the overlay runs at the model's pace (frames per second, not hundreds), and x264's own
        // thread pool would compete with the engine's workers for the cores.
        encoder.pointee.thread_count = 1
        rc = avcodec_open2(encoder, codec, nil)
        guard rc >= 0 else { throw fail("cannot open the H.264 encoder", rc) }
        rc = avcodec_parameters_from_context(stream.pointee.codecpar, encoder)
        guard rc >= 0 else { throw fail("cannot set up the video stream", rc) }
        stream.pointee.time_base = timeBase
        if frameRate > 0 { stream.pointee.avg_frame_rate = encoder.pointee.framerate }

        rc = avio_open(&output.pointee.pb, temporaryPath, AVIO_FLAG_WRITE)
        guard rc >= 0 else { throw fail("cannot create '\(temporaryPath)'", rc) }
        var options: OpaquePointer?
        _ = av_dict_set(&options, "movflags", "+faststart", 0)
        rc = avformat_write_header(output, &options)
        av_dict_free(&options)
        guard rc >= 0 else { throw fail("cannot write the MP4 header", rc) }

        guard let frame = av_frame_alloc(), let packet = av_packet_alloc() else { throw fail("out of memory", 0) }
        self.frame = frame
        self.packet = packet
        frame.pointee.format = AV_PIX_FMT_YUV420P.rawValue
        frame.pointee.width = Int32(encodedWidth)
        frame.pointee.height = Int32(encodedHeight)
        rc = av_frame_get_buffer(frame, 0)
        guard rc >= 0 else { throw fail("out of memory", rc) }
        sws = sws_getContext(Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_RGB24,
                             Int32(encodedWidth), Int32(encodedHeight), AV_PIX_FMT_YUV420P,
                             SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil)
        guard sws != nil else { throw fail("cannot convert RGB to yuv420p", 0) }
    }

    deinit {
        if !done { abandon() }
    }

    /// Encodes one picture. `pts` and `duration` are in the writer's time base; pts must increase.
    public func write(_ image: RGBImage, pts: Int64, duration: Int64) throws {
        guard !done, let encoder, let frame, let sws else {
            throw MediaError("cannot write to video '\(path)': the writer is already finished or abandoned")
        }
        image.checkInvariant()
        guard image.width == width, image.height == height else {
            throw MediaError("cannot write a \(image.width)x\(image.height) picture to video '\(path)' (\(width)x\(height))")
        }
        if let lastPTS, pts <= lastPTS {
            throw MediaError("cannot write to video '\(path)': pts \(pts) does not increase (previous \(lastPTS))")
        }
        guard duration > 0 else { throw MediaError("cannot write to video '\(path)': duration \(duration) is not positive") }

        var rc = av_frame_make_writable(frame)
        guard rc >= 0 else { throw MediaError("cannot write to video '\(path)': \(FFmpegSupport.errorText(rc))") }
        let source = pad(image)
        let converted = source.withUnsafeBufferPointer { src -> Int32 in
            var srcPlanes: [UnsafePointer<UInt8>?] = [src.baseAddress, nil, nil, nil]
            var srcStrides: [Int32] = [Int32(encodedWidth * 3), 0, 0, 0]
            return withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
                dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dstPlanes in
                    withUnsafeMutablePointer(to: &frame.pointee.linesize) { lineTuple in
                        lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { dstStrides in
                            sws_scale(sws, &srcPlanes, &srcStrides, 0, Int32(encodedHeight), dstPlanes, dstStrides)
                        }
                    }
                }
            }
        }
        guard converted == Int32(encodedHeight) else { throw MediaError("cannot write to video '\(path)': RGB conversion failed") }
        frame.pointee.pts = pts
        lastPTS = pts
        lastDuration = duration
        durations[pts] = duration
        rc = avcodec_send_frame(encoder, frame)
        guard rc >= 0 else { throw MediaError("cannot encode a frame of video '\(path)': \(FFmpegSupport.errorText(rc))") }
        try drain()
    }

    /// Flushes the encoder, writes the trailer (the faststart pass moves moov to the front), closes the file
    /// and renames it into place. On failure the temporary file is deleted.
    public func finish() throws {
        guard !done, let encoder, let format else {
            throw MediaError("cannot finish video '\(path)': the writer is already finished or abandoned")
        }
        do {
            var rc = avcodec_send_frame(encoder, nil)
            guard rc >= 0 else { throw MediaError("cannot flush the encoder of video '\(path)': \(FFmpegSupport.errorText(rc))") }
            try drain()
            rc = av_write_trailer(format)
            guard rc >= 0 else { throw MediaError("cannot finish video '\(path)': \(FFmpegSupport.errorText(rc))") }
            rc = avio_closep(&format.pointee.pb)
            guard rc >= 0 else { throw MediaError("cannot close video '\(path)': \(FFmpegSupport.errorText(rc))") }
            guard rename(temporaryPath, path) == 0 else {
                throw MediaError("cannot rename '\(temporaryPath)' to '\(path)': \(String(cString: strerror(errno)))")
            }
        } catch {
            abandon()
            throw error
        }
        done = true
        release()
    }

    /// Closes and deletes the temporary file; `path` is left untouched. Safe to call more than once.
    public func abandon() {
        guard !done else { return }
        done = true
        if let format, format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
        release()
        unlink(temporaryPath)
    }

    private func release() {
        sws_freeContext(sws)
        sws = nil
        av_frame_free(&frame)
        av_packet_free(&packet)
        avcodec_free_context(&encoder)
        if let format {
            if format.pointee.pb != nil { avio_closep(&format.pointee.pb) }
            avformat_free_context(format)
        }
        format = nil
        stream = nil
    }

    /// Moves every packet the encoder has ready into the muxer, giving each its frame's duration
    /// (libx264 leaves it 0, which makes the MP4 one frame short: build-notes §3).
    private func drain() throws {
        guard let encoder, let packet, let format, let stream else { return }
        while true {
            let rc = avcodec_receive_packet(encoder, packet)
            if rc == cff_averror_eagain() || rc == cff_averror_eof() { return }
            guard rc >= 0 else { throw MediaError("cannot encode video '\(path)': \(FFmpegSupport.errorText(rc))") }
            if packet.pointee.duration <= 0 {
                packet.pointee.duration = durations.removeValue(forKey: packet.pointee.pts) ?? lastDuration
            } else {
                durations.removeValue(forKey: packet.pointee.pts)
            }
            av_packet_rescale_ts(packet, encoder.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let written = av_interleaved_write_frame(format, packet)  // takes the packet's reference
            guard written >= 0 else {
                throw MediaError("cannot write video '\(path)': \(FFmpegSupport.errorText(written))")
            }
        }
    }

    /// Bytes after the picture that swscale may read (it reads RGB24 in wider loads than a pixel).
    static let sourceSlack = 64

    /// The picture at the encoded size, followed by `sourceSlack` bytes; odd sizes repeat the last column and row.
    /// Always a copy: the frame's own pixels end exactly at the picture, and swscale reads past it.
    private func pad(_ image: RGBImage) -> [UInt8] {
        let rowIn = width * 3, rowOut = encodedWidth * 3
        padded.withUnsafeMutableBufferPointer { out in
            image.pixels.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    let o = out.baseAddress! + y * rowOut
                    o.update(from: src.baseAddress! + y * rowIn, count: rowIn)
                    if encodedWidth > width { (o + rowIn).update(from: o + rowIn - 3, count: 3) }
                }
                if encodedHeight > height {
                    (out.baseAddress! + height * rowOut).update(from: out.baseAddress! + (height - 1) * rowOut, count: rowOut)
                }
            }
        }
        return padded
    }

    private func fail(_ what: String, _ code: Int32) -> MediaError {
        let reason = code < 0 ? ": \(FFmpegSupport.errorText(code))" : ""
        return MediaError("cannot write video '\(path)': \(what)\(reason)")
    }
}
