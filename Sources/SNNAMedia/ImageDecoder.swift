import CFFmpeg
import Glibc

/// Decodes still images (PNG, JPEG, BMP, …) through libavformat/libavcodec, so that photos and video frames
/// share one decoder family and one YUV→RGB conversion.
public enum ImageDecoder {
    /// Full chroma interpolation and accurate rounding keep the conversion as close to a reference RGB
    /// decode as swscale gets; bicubic only matters for chroma upsampling since the size never changes.
    private static let swsFlags = SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT

    /// Decodes the first video frame of `path` to RGB24.
    public static func decode(path: String) throws -> RGBImage {
        FFmpegSupport.quietLog()
        try checkReadable(path)

        var format: UnsafeMutablePointer<AVFormatContext>?
        var rc = avformat_open_input(&format, path, nil, nil)
        guard rc >= 0, let format else { throw openError(path, rc) }
        defer {
            var owned: UnsafeMutablePointer<AVFormatContext>? = format
            avformat_close_input(&owned)
        }

        rc = avformat_find_stream_info(format, nil)
        guard rc >= 0 else { throw notDecodable(path, FFmpegSupport.errorText(rc)) }

        var codec: UnsafePointer<AVCodec>?
        let streamIndex = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0)
        guard streamIndex >= 0, let codec else {
            let reason = streamIndex == FFmpegSupport.streamNotFound
                ? "no video stream" : FFmpegSupport.errorText(streamIndex)
            throw notDecodable(path, reason)
        }
        // FFmpeg happily renders long plain-text files as ANSI art; that is never a photo.
        guard codec.pointee.id != AV_CODEC_ID_ANSI else {
            throw notDecodable(path, "text file, not an image")
        }
        for i in 0..<Int(format.pointee.nb_streams) where i != Int(streamIndex) {
            format.pointee.streams[i]?.pointee.discard = AVDISCARD_ALL
        }
        guard let stream = format.pointee.streams[Int(streamIndex)] else {
            throw notDecodable(path, "no video stream")
        }

        var context = avcodec_alloc_context3(codec)
        guard let codecContext = context else { throw notDecodable(path, "out of memory") }
        defer { avcodec_free_context(&context) }
        rc = avcodec_parameters_to_context(codecContext, stream.pointee.codecpar)
        guard rc >= 0 else { throw notDecodable(path, FFmpegSupport.errorText(rc)) }
        rc = avcodec_open2(codecContext, codec, nil)
        guard rc >= 0 else { throw notDecodable(path, FFmpegSupport.errorText(rc)) }

        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var frame = av_frame_alloc()
        defer { av_frame_free(&frame) }
        guard let packet, let frame else { throw notDecodable(path, "out of memory") }

        try decodeFirstFrame(path: path, format: format, streamIndex: streamIndex,
                             codec: codecContext, packet: packet, frame: frame)
        return try convertToRGB(path: path, frame: frame)
    }

    private static func checkReadable(_ path: String) throws {
        try FFmpegSupport.checkReadable(path, kind: "image", notDecodable: notDecodable)
    }

    private static func decodeFirstFrame(path: String, format: UnsafeMutablePointer<AVFormatContext>,
                                         streamIndex: Int32, codec: UnsafeMutablePointer<AVCodecContext>,
                                         packet: UnsafeMutablePointer<AVPacket>,
                                         frame: UnsafeMutablePointer<AVFrame>) throws {
        var lastError: Int32 = 0
        while true {
            let readResult = av_read_frame(format, packet)
            if readResult < 0 {
                // End of input (or a truncated file): still drain whatever the decoder holds.
                if readResult != cff_averror_eof() { lastError = readResult }
                break
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(codec, packet)
            if sent < 0 && sent != cff_averror_eagain() {
                // One corrupt packet need not be fatal for a multi-frame input; keep the reason in case nothing decodes.
                lastError = sent
                continue
            }
            let received = avcodec_receive_frame(codec, frame)
            if received >= 0 { return }
            if received != cff_averror_eagain() && received != cff_averror_eof() { lastError = received }
        }
        // Single-frame images often sit in the decoder until it is flushed with a NULL packet.
        _ = avcodec_send_packet(codec, nil)
        let received = avcodec_receive_frame(codec, frame)
        if received >= 0 { return }
        let reason = lastError != 0 ? FFmpegSupport.errorText(lastError) : "no frame could be decoded"
        throw notDecodable(path, reason)
    }

    private static func convertToRGB(path: String, frame: UnsafeMutablePointer<AVFrame>) throws -> RGBImage {
        let width = Int(frame.pointee.width)
        let height = Int(frame.pointee.height)
        guard width > 0, height > 0 else { throw notDecodable(path, "decoded frame has no size") }
        let sourceFormat = AVPixelFormat(rawValue: frame.pointee.format)
        guard let sws = sws_getContext(Int32(width), Int32(height), sourceFormat,
                                       Int32(width), Int32(height), AV_PIX_FMT_RGB24,
                                       swsFlags, nil, nil, nil) else {
            let name = av_get_pix_fmt_name(sourceFormat).map { String(cString: $0) } ?? "unknown"
            throw notDecodable(path, "cannot convert pixel format \(name) to RGB")
        }
        defer { sws_freeContext(sws) }
        if frame.pointee.color_range == AVCOL_RANGE_JPEG { RGBConverter.applyFullRange(sws, format: sourceFormat) }

        // An aligned stride lets swscale use its SIMD paths; rows are compacted afterwards.
        let stride = (width * 3 + 63) & ~63
        var scratch = [UInt8](repeating: 0, count: stride * height + 64)
        let scaled = scratch.withUnsafeMutableBufferPointer { dst in
            FFmpegSupport.scale(sws, frame: frame, rows: Int32(height), into: dst.baseAddress!, stride: stride)
        }
        guard scaled == Int32(height) else { throw notDecodable(path, "pixel conversion to RGB failed") }

        let rowBytes = width * 3
        var pixels = [UInt8](repeating: 0, count: rowBytes * height)
        pixels.withUnsafeMutableBufferPointer { out in
            scratch.withUnsafeBufferPointer { src in
                for y in 0..<height {
                    (out.baseAddress! + y * rowBytes).update(from: src.baseAddress! + y * stride, count: rowBytes)
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private static func openError(_ path: String, _ code: Int32) -> MediaError {
        if FFmpegSupport.isSystemError(code) {
            return MediaError("cannot read image '\(path)': \(FFmpegSupport.errorText(code))")
        }
        return notDecodable(path, FFmpegSupport.errorText(code))
    }

    private static func notDecodable(_ path: String, _ reason: String) -> MediaError {
        MediaError("'\(path)' is not an image FFmpeg can decode (\(reason))")
    }
}
