/// The containers `VideoReader` opens: those the documentation promises (docs/process.md), named by their
/// FFmpeg 5.1 demuxer. Anything else FFmpeg could demux (FLV, raw H.264, image sequences, HLS playlists and concat
/// scripts that open further files or URLs, …) is refused before a demuxer reads a header: each demuxer is parser
/// code exposed to untrusted files, so only the ones we need are.
public enum SupportedContainers {
    /// AVInputFormat.name of each allowed demuxer (`ffmpeg -demuxers`), and what users call the formats.
    static let demuxers: [(name: String, label: String)] = [
        ("mov,mp4,m4a,3gp,3g2,mj2", "MP4/MOV/3GP"),
        ("matroska,webm", "Matroska/WebM"),
        ("mpegts", "MPEG-TS/M2TS"),  // one demuxer for 188- and 192-byte packets
        ("avi", "AVI"),
    ]

    /// "MP4/MOV/3GP, Matroska/WebM, MPEG-TS/M2TS, AVI", for messages and documentation.
    public static let description = demuxers.map(\.label).joined(separator: ", ")

    /// The AVFormatContext `format_whitelist` (a comma-separated list of names, matched per name by FFmpeg).
    static let ffmpegWhitelist = demuxers.map(\.name).joined(separator: ",")

    /// Exact demuxer identity, stricter than FFmpeg's per-name match (which would also accept a demuxer that merely
    /// shares one alias).
    static func isSupported(demuxer name: String) -> Bool {
        demuxers.contains { $0.name == name }
    }
}
