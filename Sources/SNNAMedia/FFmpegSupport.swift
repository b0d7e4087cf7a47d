import CFFmpeg
import Glibc

/// Process-wide FFmpeg details shared by the decoders.
enum FFmpegSupport {
    /// FFmpeg logs straight to stderr (e.g. "deprecated pixel format used" for every JPEG, "Invalid PNG signature"
    /// for a bad file); our own errors already carry FFmpeg's reason, in one line that names the file, so only fatal
    /// messages get through. A `static let` runs exactly once, even across threads.
    private static let quietOnce: Void = {
        av_log_set_level(AV_LOG_FATAL)
    }()

    static func quietLog() {
        _ = quietOnce
    }

    /// av_err2str is a macro Swift cannot import, so the text is fetched with av_strerror.
    static func errorText(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(AV_ERROR_MAX_STRING_SIZE) + 1)
        let found = buffer.withUnsafeMutableBufferPointer { av_strerror(code, $0.baseAddress, $0.count - 1) }
        if found < 0 { return "FFmpeg error \(code)" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// AVERROR_STREAM_NOT_FOUND, i.e. FFERRTAG(0xF8, 'S', 'T', 'R'); the macro does not import.
    static let streamNotFound: Int32 = -0x5254_53F8

    /// AVERROR(errno) codes are small negatives; FFmpeg's own codes are large FFERRTAG tags. The former mean
    /// the file could not be read at all, the latter that its content is the problem.
    static func isSystemError(_ code: Int32) -> Bool {
        code < 0 && code > -4096
    }
}

extension FFmpegSupport {
    /// AVERROR_DECODER_NOT_FOUND, i.e. FFERRTAG(0xF8, 'D', 'E', 'C'); the macro does not import.
    static let decoderNotFound: Int32 = -0x4345_44F8
}

extension FFmpegSupport {
    /// Checks what FFmpeg would report vaguely ("Invalid data") or not at all: a missing file, a directory, an empty
    /// file. `kind` is "image" or "video"; `notDecodable` words the empty-file case like the caller's other errors.
    static func checkReadable(_ path: String, kind: String, notDecodable: (String, String) -> MediaError) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw MediaError("cannot read \(kind) '\(path)': \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw MediaError("cannot read \(kind) '\(path)': Is a directory")
        }
        if (info.st_mode & S_IFMT) == S_IFREG && info.st_size == 0 {
            throw notDecodable(path, "the file is empty")
        }
    }
}

extension FFmpegSupport {
    /// sws_scale of a decoded frame into one packed RGB24 plane of `stride` bytes per row (the AVFrame plane
    /// tuples rebound for Swift, build-notes §3).
    static func scale(_ sws: OpaquePointer, frame: UnsafeMutablePointer<AVFrame>, rows: Int32,
                      into dst: UnsafeMutablePointer<UInt8>, stride: Int) -> Int32 {
        var dstPlanes: [UnsafeMutablePointer<UInt8>?] = [dst, nil, nil, nil]
        var dstStrides: [Int32] = [Int32(stride), 0, 0, 0]
        return withUnsafePointer(to: &frame.pointee.data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { srcPlanes in
                withUnsafePointer(to: &frame.pointee.linesize) { lineTuple in
                    lineTuple.withMemoryRebound(to: Int32.self, capacity: 8) { srcStrides in
                        sws_scale(sws, srcPlanes, srcStrides, 0, rows, &dstPlanes, &dstStrides)
                    }
                }
            }
        }
    }
}
