import CPNG
import Glibc

/// Writes RGB images as PNG through libpng's simplified API (the classic API needs setjmp, which Swift cannot use).
public enum PNGWriter {
    /// Writes `image` to `path`. The data goes to a temporary file in the same folder first and is renamed over
    /// `path`, so a reader (e.g. a web UI polling the output folder) never sees a half-written PNG.
    public static func write(_ image: RGBImage, to path: String) throws {
        guard image.width > 0, image.height > 0 else {
            throw MediaError("cannot write PNG '\(path)': image is empty (\(image.width)x\(image.height))")
        }
        guard image.pixels.count == image.width * image.height * 3 else {
            throw MediaError("cannot write PNG '\(path)': pixel buffer does not match \(image.width)x\(image.height)")
        }

        let temporary = temporaryPath(for: path)
        // fopen ourselves so a failure carries errno's reason (e.g. a missing folder) rather than libpng's vaguer one.
        guard let file = fopen(temporary, "wb") else {
            throw MediaError("cannot write PNG '\(path)': \(String(cString: strerror(errno)))")
        }

        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = UInt32(PNG_FORMAT_RGB)
        let written = image.pixels.withUnsafeBytes { bytes in
            png_image_write_to_stdio(&png, file, 0, bytes.baseAddress, Int32(image.width * 3), nil)
        }
        let libpngMessage = message(of: &png)
        png_image_free(&png)
        let closed = fclose(file)
        let closeError = errno

        guard written != 0, closed == 0 else {
            unlink(temporary)
            let reason = written == 0 ? libpngMessage : String(cString: strerror(closeError))
            throw MediaError("cannot write PNG '\(path)': \(reason)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MediaError("cannot write PNG '\(path)': \(reason)")
        }
    }

    /// A hidden sibling name, unique per process and call, so concurrent writers never share a temporary.
    private static func temporaryPath(for path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(folder).\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
    }

    private static func message(of png: inout png_image) -> String {
        withUnsafeBytes(of: &png.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "libpng failed" : String(decoding: bytes, as: UTF8.self)
        }
    }
}
