import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import Testing

/// `snna serve` as a real child process on temporary folders with a tiny random model (issue #5 tests).
@Suite("snna serve", .serialized, .enabled(if: MediaTools.available, "ffmpeg and ffprobe are not on PATH"))
struct ServeTests {
    /// A Unix datagram socket standing in for systemd's NOTIFY_SOCKET.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        let fd: Int32
        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                let bytes = Array(path.utf8)
                for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { throw CLITestError.failed("cannot bind \(path)") }
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
        }
        deinit { close(fd); unlink(path) }
        private let collected = NSLock()
        private var received: [String] = []
        private var reading = true
        /// Reads continuously, as systemd does (a full datagram queue would block the sender).
        func startReading() {
            Thread { [self] in
                while true {
                    collected.lock(); let go = reading; collected.unlock()
                    if !go { break }
                    let got = receiveNow()
                    collected.lock(); received += got; collected.unlock()
                    usleep(20_000)
                }
            }.start()
        }
        func stopReading() { collected.lock(); reading = false; collected.unlock() }
        /// Every message received so far.
        func drain() -> [String] {
            collected.lock(); defer { collected.unlock() }
            let out = received
            received = []
            return out
        }
        private func receiveNow() -> [String] {
            var out: [String] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { break }
                out.append(String(decoding: buffer[0..<n], as: UTF8.self))
            }
            return out
        }
    }

    struct Daemon {
        let process: Process
        let stderrPath: String
        var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    }

    static func start(config: String, in dir: String, notify: String? = nil) throws -> Daemon {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try SNNA.binary())
        p.arguments = ["serve", "--config", config]
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        if let notify { env["NOTIFY_SOCKET"] = notify }
        p.environment = env
        let err = "\(dir)/serve-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: err, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return Daemon(process: p, stderrPath: err)
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    /// GET on the daemon's HTTP address: (status, body), or nil when nothing answers.
    static func get(_ url: String) -> (Int, String)? {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox()
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            if let http = response as? HTTPURLResponse {
                result.set((http.statusCode, String(decoding: data ?? Data(), as: UTF8.self)))
            }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        return result.get()
    }
    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var value: (Int, String)?
        func set(_ v: (Int, String)) { lock.lock(); value = v; lock.unlock() }
        func get() -> (Int, String)? { lock.lock(); defer { lock.unlock() }; return value }
    }

    static let port = Int.random(in: 20000...60000)

    static func writeConfig(_ path: String, dir: String, model: String, extra: String = "") throws {
        try """
        watch: [\(dir)/in]
        output: \(dir)/out
        state: \(dir)/state
        model: \(model)
        quiet_period: 3
        threads: 1
        process: {explain_stride: 0, video: false}
        log: {format: json}
        http: {address: "127.0.0.1:\(port)"}
        \(extra)
        """.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Finished output folders (hidden in-progress folders and locks excluded).
    static func outputs(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/out")) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test("an invalid configuration exits 78 naming the key")
    func invalidConfig() throws {
        try withTemporaryFolder { dir in
            let config = "\(dir)/bad.yaml"
            try "watch: [\(dir)/in]\noutput: \(dir)/out\nstate: \(dir)/state\nmodel: /m\nworkers: many\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let run = try SNNA.run(["serve", "--config", config], in: dir)
            #expect(run.status == 78 && run.err.contains("'workers', line 5"), "\(run)")
        }
    }

    @Test("files are taken when complete, each processed once; READY/STATUS/STOPPING arrive; SIGHUP reloads; SIGTERM exits 0")
    func lifecycle() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
            let config = "\(dir)/snna.yaml"
            try Self.writeConfig(config, dir: dir, model: model)
            let notify = try NotifySocket(path: "\(dir)/notify.sock")
            notify.startReading()
            defer { notify.stopReading() }
            let daemon = try Self.start(config: config, in: dir, notify: notify.path)
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            var messages: [String] = []
            #expect(Self.waitFor(20) { messages += notify.drain(); return messages.contains { $0.contains("READY=1") } },
                    "no READY=1: \(messages) \(daemon.log)")

            // A file written slowly in chunks is taken only once it is complete.
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "clip.mp4", in: dir)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: clip))
            let target = "\(dir)/in/slow.mp4"
            FileManager.default.createFile(atPath: target, contents: nil)
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
            let third = bytes.count / 3
            for i in 0..<3 {
                try h.write(contentsOf: bytes[(i * third)..<(i == 2 ? bytes.count : (i + 1) * third)])
                usleep(400_000)
                #expect(Self.outputs(dir).isEmpty, "taken before it was complete")
            }
            try h.close()
            let inFolder = (try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/in")) ?? []
            #expect(Self.waitFor(30) { Self.outputs(dir).count == 1 }, "in: \(inFolder) log: \(daemon.log)")
            let first = Self.outputs(dir)
            #expect(first.first?.hasPrefix("slow-") == true)
            let lines = try ProcessOutput.actions("\(dir)/out/\(first[0])/actions.jsonl")
            #expect(lines.count == 30)

            // HTTP: liveness, readiness, Prometheus metrics, status and the job list. The folder appears (durably)
            // just before the job is recorded as done: wait for the record.
            let base = "http://127.0.0.1:\(Self.port)"
            #expect(Self.waitFor(20) { Self.get(base + "/api/jobs")?.1.contains("\"state\":\"done\"") == true })
            #expect(Self.get(base + "/healthz")?.0 == 200)
            #expect(Self.get(base + "/readyz")?.0 == 200)
            let metrics = Self.get(base + "/metrics")
            #expect(metrics?.0 == 200 && metrics?.1.contains("snna_files{state=\"done\"} 1") == true, "\(String(describing: metrics))")
            #expect(metrics?.1.contains("snna_frames_decoded_total 30") == true, "\(String(describing: metrics))")
            let status = Self.get(base + "/status")
            #expect(status?.0 == 200 && status?.1.contains("\"state\":\"idle\"") == true, "\(String(describing: status))")
            let jobs = Self.get(base + "/api/jobs")
            #expect(jobs?.0 == 200 && jobs?.1.contains("slow.mp4") == true && jobs?.1.contains("\"state\":\"done\"") == true,
                    "\(String(describing: jobs))")

            // SIGHUP with a new stride: the next file uses it.
            try Self.writeConfig(config, dir: dir, model: model, extra: "")
            var text = try String(contentsOfFile: config, encoding: .utf8)
            text = text.replacingOccurrences(of: "process: {explain_stride: 0, video: false}",
                                             with: "process: {explain_stride: 0, video: false, predict_stride: 5}")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            kill(daemon.process.processIdentifier, SIGHUP)
            #expect(Self.waitFor(10) { daemon.log.contains("configuration reloaded") }, "\(daemon.log)")
            // Two more files (one a copy of the first under another name): each done once.
            try FileManager.default.copyItem(atPath: clip, toPath: "\(dir)/in/second.mp4.part")
            try FileManager.default.moveItem(atPath: "\(dir)/in/second.mp4.part", toPath: "\(dir)/in/second.mp4")
            let clip2 = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.5) + MediaTools.x264, output: "clip2.mp4", in: dir)
            try FileManager.default.moveItem(atPath: clip2, toPath: "\(dir)/in/third.mp4")
            #expect(Self.waitFor(30) { Self.outputs(dir).count == 2 }, "\(Self.outputs(dir)) \(daemon.log)")
            usleep(1_500_000)
            // second.mp4 has the same content as slow.mp4: exactly once means it is not processed again.
            #expect(Self.outputs(dir).count == 2, "\(Self.outputs(dir))")
            let thirdOutput = try #require(Self.outputs(dir).first { $0.hasPrefix("third-") })
            #expect(try ProcessOutput.actions("\(dir)/out/\(thirdOutput)/actions.jsonl").count == 3)  // frames 0, 5, 10 of 15

            kill(daemon.process.processIdentifier, SIGTERM)
            #expect(Self.waitFor(10) { !daemon.process.isRunning }, "did not stop: \(daemon.log)")
            #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
            // A clean run and a clean stop log no errors (the HTTP server's shutdown included), and every line is
            // the configured JSON (Hummingbird's own lines too).
            let logLines = daemon.log.split(separator: "\n").filter { !$0.isEmpty }
            #expect(!logLines.contains { $0.contains("\"level\":\"error\"") || $0.contains(" error ") }, "\(daemon.log)")
            #expect(logLines.allSatisfy { $0.hasPrefix("{") }, "\(daemon.log)")
            messages += notify.drain()
            #expect(messages.contains { $0.contains("STATUS=") } && messages.contains { $0.contains("STOPPING=1") }, "\(messages)")
            #expect(messages.contains { $0.contains("RELOADING=1") }, "\(messages)")
        }
    }

    @Test("kill -9 in the middle of a file: after a restart it is redone once, with no partial outputs left")
    func crashRecovery() throws {
        try withTemporaryFolder { dir in
            let model = try Fixtures.tinyModel(in: dir)
            try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
            let config = "\(dir)/snna.yaml"
            try Self.writeConfig(config, dir: dir, model: model, extra: "")
            var text = try String(contentsOfFile: config, encoding: .utf8)
            text = text.replacingOccurrences(of: "process: {explain_stride: 0, video: false}",
                                             with: "process: {explain_stride: 1, samples: 2, video: true}")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            let daemon = try Self.start(config: config, in: dir)
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 6) + MediaTools.x264, output: "long.mp4", in: dir)
            try FileManager.default.moveItem(atPath: clip, toPath: "\(dir)/in/long.mp4")
            #expect(Self.waitFor(30) { daemon.log.contains("\"message\":\"processing\"") }, "\(daemon.log)")
            usleep(300_000)
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
            #expect(Self.outputs(dir).isEmpty, "a result appeared although the run was killed")
            let again = try Self.start(config: config, in: dir)
            defer { if again.process.isRunning { again.process.terminate() } }
            #expect(Self.waitFor(90) { Self.outputs(dir).count == 1 }, "\(again.log)")
            #expect(again.log.contains("requeued an interrupted job"), "\(again.log)")
            let hidden = ((try? FileManager.default.contentsOfDirectory(atPath: "\(dir)/out")) ?? []).filter { $0.contains(".partial-") }
            #expect(hidden.isEmpty, "\(hidden)")
            let lines = try ProcessOutput.actions("\(dir)/out/\(Self.outputs(dir)[0])/actions.jsonl")
            #expect(lines.count == 180)
            kill(again.process.processIdentifier, SIGTERM)
            #expect(Self.waitFor(20) { !again.process.isRunning })
            #expect(again.process.terminationStatus == 0)
        }
    }
}
