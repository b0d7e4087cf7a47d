import CFFmpeg
import Glibc

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
