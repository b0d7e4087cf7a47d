import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Progress on stderr: a redrawn bar when stderr is a terminal, a plain line every few seconds otherwise
/// (journals, pipes), nothing when quiet.
public final class ProgressReporter {
    public enum Mode: Sendable { case bar, lines, quiet }
    public let mode: Mode
    let name: String
    let expectedFrames: Int?
    /// What is counted ("frames", "samples").
    let unit: String
    private let start = Date()
    private var lastReport = Date.distantPast

    public init(name: String, expectedFrames: Int?, quiet: Bool, unit: String = "frames") {
        self.name = name
        self.unit = unit
        self.expectedFrames = expectedFrames
        mode = quiet ? .quiet : (isatty(2) != 0 ? .bar : .lines)
    }

    private var rate: String { unit == "frames" ? "fps" : "\(unit)/s" }

    public func update(frames: Int, force: Bool = false) {
        guard mode != .quiet else { return }
        let now = Date()
        let interval = mode == .bar ? 0.2 : 10
        guard force || now.timeIntervalSince(lastReport) >= interval else { return }
        lastReport = now
        let elapsed = now.timeIntervalSince(start)
        let fps = elapsed > 0 ? Double(frames) / elapsed : 0
        var text: String
        if let total = expectedFrames, total > 0 {
            let fraction = min(1, Double(frames) / Double(total))
            let eta = fps > 0 ? Double(max(0, total - frames)) / fps : 0
            if mode == .bar {
                let width = 24, filled = Int(fraction * Double(width))
                text = "\r\(name) [" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                    + "] \(frames)/\(total) \(unit)  \(String(format: "%.2f", fps)) \(rate)  ETA \(clock(eta))   "
            } else {
                text = "\(name): \(frames)/\(total) \(unit), \(String(format: "%.2f", fps)) \(rate), ETA \(clock(eta))\n"
            }
        } else {
            text = (mode == .bar ? "\r" : "") + "\(name): \(frames) \(unit), \(String(format: "%.2f", fps)) \(rate)"
                + (mode == .bar ? "   " : "\n")
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Ends a redrawn bar line so an error message starts on a line of its own.
    public func interrupt() {
        if mode == .bar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    public func finish(frames: Int) {
        update(frames: frames, force: true)
        if mode == .bar { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
    }
}
