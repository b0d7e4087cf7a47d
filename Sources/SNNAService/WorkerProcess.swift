import CSNNASystem
import Foundation
import SNNAPipeline
#if canImport(Glibc)
import Glibc
#endif

/// How a worker process ended, as the supervisor judges it.
enum WorkerOutcome: Sendable {
    /// Outputs committed durably.
    case done(outputFolder: String, summary: RunSummary)
    /// The pipeline reported an error: `transient` ones (full disk…) are retried with backoff, others fail the job.
    case failed(reason: String, transient: Bool)
    /// The worker died by a signal, exceeded its memory limit, hung, or exited without a word: the job is retried
    /// up to `max_attempts`.
    case crashed(reason: String)
    /// Stopped on the daemon's shutdown: the job stays queued.
    case cancelled
    /// The worker could not be started (e.g. too many processes or open files): retried with backoff.
    case notStarted(reason: String)
}

/// The supervisor side of one worker process (issue 14 §1): starts `snna worker` (this very binary, through
/// /proc/self/exe), hands it the job on stdin, follows its progress on stdout, keeps the tail of its stderr for the
/// failure reason, and kills it when it makes no progress for `stallTimeout` seconds or holds more than
/// `memoryLimitBytes` resident. Everything happens on the calling thread (poll + waitpid), so no signal handler and
/// no other thread is involved.
final class WorkerProcess {
    let request: WorkerRequest
    let stallTimeout: Double
    let memoryLimitBytes: UInt64?
    let executable: String
    /// Called on each progress line: frames decoded so far and the expected total.
    var onProgress: (_ frames: Int, _ expected: Int?) -> Void = { _, _ in }
    var onWarning: (String) -> Void = { _ in }
    /// Called once the worker process exists, with its pid.
    var onSpawn: (pid_t) -> Void = { _ in }
    /// Polled a few times a second: true asks the worker to stop (SIGTERM, then SIGKILL after `stopGrace`).
    var shouldStop: () -> Bool = { false }
    var stopGrace: Double = 30
    /// The worker's pid once started (for tests and logs).
    private(set) var pid: pid_t = 0

    init(request: WorkerRequest, stallTimeout: Double, memoryLimitBytes: UInt64?,
         executable: String = "/proc/self/exe") {
        self.request = request
        self.stallTimeout = stallTimeout
        self.memoryLimitBytes = memoryLimitBytes
        self.executable = executable
    }

    func run() -> WorkerOutcome {
        let encoder = JSONEncoder()
        guard let requestData = try? encoder.encode(request) else { return .failed(reason: "cannot encode the job", transient: false) }
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1], stderrPipe: [Int32] = [-1, -1]
        guard csys_pipe_cloexec(&stdinPipe) == 0 else { return .notStarted(reason: "pipe: \(Self.errnoText())") }
        guard csys_pipe_cloexec(&stdoutPipe) == 0 else {
            close(stdinPipe[0]); close(stdinPipe[1])
            return .notStarted(reason: "pipe: \(Self.errnoText())")
        }
        guard csys_pipe_cloexec(&stderrPipe) == 0 else {
            for fd in stdinPipe + stdoutPipe { close(fd) }
            return .notStarted(reason: "pipe: \(Self.errnoText())")
        }
        let arguments = ["snna", "worker"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: Int32 = 0
        let rc = csys_spawn(executable, &argv, stdinPipe[0], stdoutPipe[1], stderrPipe[1], &child)
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard rc == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            return .notStarted(reason: "cannot start a worker process: \(String(cString: strerror(rc)))")
        }
        pid = child
        onSpawn(child)
        // The request is small (well under a pipe's 64 KiB), so this write never blocks on the child.
        requestData.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(stdinPipe[1], raw.baseAddress! + done, raw.count - done)
                if n < 0 { if errno == EINTR { continue }; break }
                done += n
            }
        }
        close(stdinPipe[1])
        defer { close(stdoutPipe[0]); close(stderrPipe[0]) }
        return supervise(stdout: stdoutPipe[0], stderr: stderrPipe[0])
    }

    private func supervise(stdout: Int32, stderr: Int32) -> WorkerOutcome {
        var lineBuffer = [UInt8]()
        var stderrTail = [UInt8]()
        var final: WorkerMessage?
        var frames = 0
        var lastProgress = Self.monotonic()
        var killedFor: String?
        var stopSentAt: Double?
        var stdoutOpen = true, stderrOpen = true
        var status: Int32 = 0
        var exited = false
        var chunk = [UInt8](repeating: 0, count: 65536)

        func handle(line: ArraySlice<UInt8>) {
            guard let message = try? JSONDecoder().decode(WorkerMessage.self, from: Data(line)) else { return }
            switch message.kind {
            case .started:
                lastProgress = Self.monotonic()
            case .progress:
                lastProgress = Self.monotonic()
                frames = message.frames ?? frames
                onProgress(frames, message.expected)
            case .warning:
                onWarning(message.text ?? "")
            case .done, .failed, .cancelled:
                final = message
            }
        }

        while !exited || stdoutOpen || stderrOpen {
            var fds = [pollfd(fd: stdoutOpen ? stdout : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stderrOpen ? stderr : -1, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, 200)
            for (i, fd) in [stdout, stderr].enumerated() where fds[i].revents != 0 {
                let n = read(fd, &chunk, chunk.count)
                if n > 0 {
                    if i == 0 {
                        lineBuffer += chunk[0..<n]
                        while let newline = lineBuffer.firstIndex(of: 0x0A) {
                            handle(line: lineBuffer[0..<newline])
                            lineBuffer.removeSubrange(0...newline)
                        }
                    } else {
                        stderrTail += chunk[0..<n]
                        if stderrTail.count > 8192 { stderrTail.removeFirst(stderrTail.count - 8192) }
                    }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    if i == 0 { stdoutOpen = false } else { stderrOpen = false }
                }
            }
            if !exited {
                let got = waitpid(pid, &status, WNOHANG)
                if got == pid { exited = true; continue }
                if got < 0 && errno == ECHILD { exited = true; continue }
                let now = Self.monotonic()
                if killedFor == nil {
                    if now - lastProgress > stallTimeout {
                        killedFor = "no progress for \(Int(stallTimeout)) s (stuck after frame \(frames))"
                        kill(pid, SIGKILL)
                    } else if let limit = memoryLimitBytes, let rss = Self.residentBytes(pid), rss > limit {
                        killedFor = "worker used \(rss >> 20) MB, over worker_memory_mb (\(limit >> 20)) on frame \(frames)"
                        kill(pid, SIGKILL)
                    } else if stopSentAt == nil && shouldStop() {
                        stopSentAt = now
                        kill(pid, SIGTERM)
                    } else if let sent = stopSentAt, now - sent > stopGrace {
                        killedFor = "did not stop within \(Int(stopGrace)) s of the shutdown"
                        kill(pid, SIGKILL)
                    }
                }
            } else if stdoutOpen || stderrOpen {
                // The worker is gone and 200 ms passed without a byte: whatever still holds the pipes open (a
                // grandchild) is not worth waiting for.
                if fds.allSatisfy({ $0.revents == 0 }) { break }
            }
        }
        if !lineBuffer.isEmpty { handle(line: lineBuffer[...]) }   // a last line without its newline

        if let killedFor { return stopSentAt != nil && final?.kind == .cancelled ? .cancelled : .crashed(reason: killedFor) }
        if let final {
            switch final.kind {
            case .done:
                if let folder = final.outputFolder, let summary = final.summary {
                    return .done(outputFolder: folder, summary: summary)
                }
            case .failed:
                let text = final.text ?? "unknown error"
                return .failed(reason: text, transient: final.transient ?? TransientFailure.matches(text))
            case .cancelled:
                return .cancelled
            default:
                break
            }
        }
        let diagnosis = Self.lastLine(stderrTail).map { ": \($0)" } ?? ""
        if Self.wasSignaled(status) {
            let sig = Self.termSignal(status)
            return .crashed(reason: "worker killed by \(Self.signalName(sig)) on frame \(frames)\(diagnosis)")
        }
        return .crashed(reason: "worker exited with status \(Self.exitStatus(status)) without a result on frame \(frames)\(diagnosis)")
    }

    // MARK: - Helpers

    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Resident memory of `pid` from /proc/<pid>/statm (pages × page size), nil when it cannot be read.
    static func residentBytes(_ pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return nil }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func wasSignaled(_ status: Int32) -> Bool { (status & 0x7f) != 0 && (status & 0x7f) != 0x7f }
    static func termSignal(_ status: Int32) -> Int32 { status & 0x7f }
    static func exitStatus(_ status: Int32) -> Int32 { (status >> 8) & 0xff }

    static func signalName(_ sig: Int32) -> String {
        let names: [Int32: String] = [SIGILL: "SIGILL", SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGABRT: "SIGABRT",
                                      SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGTRAP: "SIGTRAP",
                                      SIGINT: "SIGINT", SIGSYS: "SIGSYS", SIGPIPE: "SIGPIPE", SIGXCPU: "SIGXCPU"]
        return names[sig] ?? "signal \(sig)"
    }

    /// What the worker said last on stderr: the Swift runtime's "Fatal error: …" line when there is one (a
    /// backtrace may follow it), else the last non-empty line.
    static func lastLine(_ bytes: [UInt8]) -> String? {
        let lines = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let line = lines.last(where: { $0.contains("Fatal error") }) ?? lines.last else { return nil }
        return String(line.prefix(300))
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
