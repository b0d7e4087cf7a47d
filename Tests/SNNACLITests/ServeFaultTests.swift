import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Glibc
import Testing

/// Issue 14: the daemon under real faults — a hostile file, a worker killed by a signal, a hung worker, a full disk,
/// a power cut's worth of fsyncs (read from strace), lost outputs, awkward names and sizes. Every test runs the real
/// `snna serve` on temporary folders with the tiny model and injects the fault from outside.
@Suite("snna serve under faults", .serialized, .enabled(if: MediaTools.available, "ffmpeg and ffprobe are not on PATH"))
struct ServeFaultTests {
    /// A daemon on its own folders and port.
    struct Setup {
        let dir: String
        let config: String
        let port = Int.random(in: 20000...60000)
        var base: String { "http://127.0.0.1:\(port)" }

        init(dir: String, output: String? = nil, extra: String = "",
             process: String = "{explain_stride: 0, video: false}") throws {
            self.dir = dir
            let model = try Fixtures.tinyModel(in: dir)
            try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
            config = "\(dir)/snna.yaml"
            try """
            watch: [\(dir)/in]
            output: \(output ?? "\(dir)/out")
            state: \(dir)/state
            model: \(model)
            quiet_period: 2
            threads: 1
            process: \(process)
            log: {format: json}
            http: {address: "127.0.0.1:\(port)"}
            \(extra)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }

        var output: String {
            let text = (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
            let line = text.split(separator: "\n").first { $0.hasPrefix("output: ") } ?? ""
            return String(line.dropFirst("output: ".count))
        }

        func start() throws -> ServeTests.Daemon { try ServeTests.start(config: config, in: dir) }

        func outputs() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: output)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        }

        /// The jobs as /api/jobs reports them.
        func jobs() -> [[String: Any]] {
            guard let (status, body) = ServeTests.get(base + "/api/jobs"), status == 200,
                  let list = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] else { return [] }
            return list
        }

        func job(endingWith name: String) -> [String: Any]? {
            jobs().first { ($0["path"] as? String)?.hasSuffix(name) == true }
        }

        func state(of name: String) -> String? { job(endingWith: name)?["state"] as? String }

        /// Drops a file into the watch folder atomically (written beside it, then renamed in).
        func drop(_ source: String, as name: String) throws {
            let staging = "\(dir)/staging-\(UUID().uuidString)"
            try FileManager.default.copyItem(atPath: source, toPath: staging)
            try FileManager.default.moveItem(atPath: staging, toPath: "\(dir)/in/\(name)")
        }

        func stop(_ daemon: ServeTests.Daemon) {
            kill(daemon.process.processIdentifier, SIGTERM)
            _ = ServeTests.waitFor(30) { !daemon.process.isRunning }
        }
    }

    /// The worker pid of the job whose file ends with `name`, from the daemon's "processing" log line.
    static func workerPID(_ log: String, file name: String) -> Int32? {
        for line in log.split(separator: "\n").reversed() where line.contains("\"message\":\"processing\"") && line.contains(name) {
            guard let data = line.data(using: .utf8),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let pid = object["worker_pid"] as? String else { continue }
            return Int32(pid)
        }
        return nil
    }

    /// The 32-byte file of issue 14: `ftyp`, then a box with size 1 and a 64-bit largesize of 0x7FFF_FFFF_FFFF_FFFF.
    static func craftedFile(_ path: String) throws {
        var bytes: [UInt8] = [0, 0, 0, 16] + Array("ftypisom".utf8) + [0, 0, 0, 0]
        bytes += [0, 0, 0, 1] + Array("mdat".utf8) + [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(bytes.count == 32)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test("the crafted 32-byte file next to a good clip with two workers: the bad one fails with its reason, the good one is done, the daemon lives on")
    func hostileFileBesideAGoodClip() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir, extra: "workers: 2")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let pid = daemon.process.processIdentifier
            let good = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "good.mp4", in: dir)
            try Self.craftedFile("\(dir)/bad.mp4")
            try setup.drop("\(dir)/bad.mp4", as: "bad.mp4")
            try setup.drop(good, as: "good.mp4")
            #expect(ServeTests.waitFor(60) { setup.state(of: "good.mp4") == "done" && setup.state(of: "bad.mp4") == "failed" },
                    "\(setup.jobs()) \(daemon.log)")
            let reason = setup.job(endingWith: "bad.mp4")?["error"] as? String ?? ""
            #expect(reason.contains("bad.mp4") && (reason.contains("moov") || reason.contains("not a video")), "\(reason)")
            #expect(daemon.process.isRunning && daemon.process.processIdentifier == pid)
            #expect(ServeTests.get(setup.base + "/healthz")?.0 == 200)
            setup.stop(daemon)
            #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
        }
    }

    @Test("a worker killed by SIGSEGV is reaped: its job fails with the reason once attempts run out, the other job and the daemon carry on")
    func workerKilledBySignal() throws {
        try withTemporaryFolder { dir in
            // Explaining every frame makes the long clip slow enough to be caught in the middle.
            let setup = try Setup(dir: dir, extra: "workers: 2\nmax_attempts: 1",
                                  process: "{explain_stride: 1, samples: 2, video: false}")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let pid = daemon.process.processIdentifier
            let long = try MediaTools.ffmpeg(MediaTools.source(seconds: 8) + MediaTools.x264, output: "long.mp4", in: dir)
            let short = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "short.mp4", in: dir)
            try setup.drop(long, as: "victim.mp4")
            var worker: Int32?
            #expect(ServeTests.waitFor(30) { worker = Self.workerPID(daemon.log, file: "victim.mp4"); return worker != nil }, "\(daemon.log)")
            try setup.drop(short, as: "bystander.mp4")
            usleep(500_000)
            kill(try #require(worker), SIGSEGV)
            #expect(ServeTests.waitFor(30) { setup.state(of: "victim.mp4") == "failed" }, "\(setup.jobs()) \(daemon.log)")
            let reason = setup.job(endingWith: "victim.mp4")?["error"] as? String ?? ""
            #expect(reason.hasPrefix("worker killed by SIGSEGV on frame"), "\(reason)")
            #expect(ServeTests.waitFor(60) { setup.state(of: "bystander.mp4") == "done" }, "\(setup.jobs()) \(daemon.log)")
            #expect(daemon.process.isRunning && daemon.process.processIdentifier == pid)
            let metrics = ServeTests.get(setup.base + "/metrics")?.1 ?? ""
            #expect(metrics.contains("snna_worker_crashes_total 1"), "\(metrics)")
            // No partial folder of the dead worker is left behind once the daemon restarts.
            setup.stop(daemon)
            let again = try setup.start()
            defer { if again.process.isRunning { again.process.terminate() } }
            #expect(ServeTests.waitFor(20) { again.log.contains("\"message\":\"ready\"") })
            let leftovers = ((try? FileManager.default.contentsOfDirectory(atPath: setup.output)) ?? []).filter { $0.contains(".partial-") }
            #expect(leftovers.isEmpty, "\(leftovers)")
            setup.stop(again)
        }
    }

    @Test("a hung worker (SIGSTOP) is killed after stall_timeout and its job retried to the end")
    func hungWorker() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir, extra: "stall_timeout: 5\nmax_attempts: 3",
                                  process: "{explain_stride: 1, samples: 2, video: false}")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 4) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(clip, as: "hang.mp4")
            var worker: Int32?
            #expect(ServeTests.waitFor(30) { worker = Self.workerPID(daemon.log, file: "hang.mp4"); return worker != nil }, "\(daemon.log)")
            kill(try #require(worker), SIGSTOP)
            #expect(ServeTests.waitFor(30) { daemon.log.contains("no progress for 5 s") }, "\(daemon.log)")
            #expect(ServeTests.waitFor(90) { setup.state(of: "hang.mp4") == "done" }, "\(setup.jobs()) \(daemon.log)")
            #expect((setup.job(endingWith: "hang.mp4")?["attempts"] as? Int) == 2)
            // The stopped worker is gone, not lingering.
            #expect(kill(try #require(worker), 0) != 0)
            setup.stop(daemon)
        }
    }

    @Test("a worker over worker_memory_mb is killed with the reason; a small file beside it is done")
    func workerOverMemoryLimit() throws {
        try withTemporaryFolder { dir in
            // A 1080p clip needs ~440 MB in a worker (frames queued for the overlay); a 160×90 one ~80 MB.
            let setup = try Setup(dir: dir, extra: "workers: 2\nmax_attempts: 1\nworker_memory_mb: 256",
                                  process: "{explain_stride: 0, video: true}")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let big = try MediaTools.ffmpeg(MediaTools.source(seconds: 2, size: "1920x1080") + MediaTools.x264, output: "big.mp4", in: dir)
            let small = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "small.mp4", in: dir)
            try setup.drop(big, as: "big.mp4")
            try setup.drop(small, as: "small.mp4")
            #expect(ServeTests.waitFor(90) { setup.state(of: "big.mp4") == "failed" && setup.state(of: "small.mp4") == "done" },
                    "\(setup.jobs()) \(daemon.log)")
            let reason = setup.job(endingWith: "big.mp4")?["error"] as? String ?? ""
            #expect(reason.contains("over worker_memory_mb (256)"), "\(reason)")
            #expect(daemon.process.isRunning)
            setup.stop(daemon)
        }
    }

    @Test("an output disk that fills mid-job: nothing fails for good, /readyz says why, all is done by itself once space is freed")
    func fullDisk() throws {
        guard getuid() == 0 else { return }   // mounting a tmpfs needs root (CI runs as root)
        try withTemporaryFolder { dir in
            let disk = "\(dir)/disk"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            guard runProcessQuietly("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]) else { return }
            defer { _ = runProcessQuietly("/bin/umount", ["-l", disk]) }
            let setup = try Setup(dir: dir, output: "\(disk)/out",
                                  extra: "min_free_gb: 0.0003\nretry_backoff: 1\nretry_backoff_max: 2\nretention: {free_space_sweep: false}",
                                  process: "{explain_stride: 0, video: true}")
            // Noise compresses badly: each overlay is far larger than what is left on the disk. (Each clip's own
            // colour: identical content would be processed once only.)
            var clips: [String] = []
            for i in 0..<3 {
                clips.append(try MediaTools.ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=320x180:r=30,geq=random(1)*255:\(100 + 40 * i):128",
                                                    "-t", "2"] + MediaTools.x264, output: "noise\(i).mp4", in: dir))
            }
            let filler = "\(disk)/filler.bin"
            let leave = 700_000
            try fill(filler, leaving: leave, on: disk)
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            for (i, clip) in clips.enumerated() { try setup.drop(clip, as: "n\(i).mp4") }
            #expect(ServeTests.waitFor(60) { daemon.log.contains("transient failure; the job will be retried") }, "\(daemon.log)")
            // Now take the disk below min_free_gb: readiness says why, no job starts, none fails.
            try fill(filler, leaving: 100_000, on: disk)
            #expect(ServeTests.waitFor(20) {
                let r = ServeTests.get(setup.base + "/readyz")
                return r?.0 == 503 && r?.1.contains("min_free_gb") == true
            }, "\(String(describing: ServeTests.get(setup.base + "/readyz")))")
            #expect(setup.jobs().allSatisfy { ($0["state"] as? String) != "failed" }, "\(setup.jobs())")
            let metrics = ServeTests.get(setup.base + "/metrics")?.1 ?? ""
            #expect(metrics.contains("snna_free_bytes{disk=\"output\"}"), "\(metrics)")
            // Free the space: readiness and processing come back by themselves.
            try FileManager.default.removeItem(atPath: filler)
            #expect(ServeTests.waitFor(120) { setup.jobs().count == 3 && setup.jobs().allSatisfy { ($0["state"] as? String) == "done" } },
                    "\(setup.jobs()) \(daemon.log)")
            #expect(ServeTests.get(setup.base + "/readyz")?.0 == 200)
            #expect(setup.outputs().count == 3)
            setup.stop(daemon)
        }
    }

    @Test("low on space with old outputs: the oldest are deleted until min_free_gb is met, recorded in the job store")
    func lowSpaceSweep() throws {
        guard getuid() == 0 else { return }
        try withTemporaryFolder { dir in
            let disk = "\(dir)/disk"
            try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
            guard runProcessQuietly("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", disk]) else { return }
            defer { _ = runProcessQuietly("/bin/umount", ["-l", disk]) }
            let setup = try Setup(dir: dir, output: "\(disk)/out", extra: "min_free_gb: 0.002",
                                  process: "{explain_stride: 0, video: true}")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            for i in 0..<2 {
                let clip = try MediaTools.ffmpeg(["-f", "lavfi", "-i", "nullsrc=s=320x180:r=30,geq=random(1)*255:\(100 + 40 * i):128",
                                                  "-t", "2"] + MediaTools.x264, output: "noise\(i).mp4", in: dir)
                try setup.drop(clip, as: "old\(i).mp4")
                #expect(ServeTests.waitFor(60) { setup.state(of: "old\(i).mp4") == "done" }, "\(daemon.log)")
                usleep(1_100_000)   // distinct folder mtimes: "oldest" is well defined
            }
            let before = setup.outputs()
            #expect(before.count == 2)
            // Leave less than 2 MB: the oldest output must go, and only as many as needed.
            try fill("\(disk)/filler.bin", leaving: 1_900_000, on: disk)
            #expect(ServeTests.waitFor(30) { daemon.log.contains("low disk space: deleted the oldest output") }, "\(daemon.log)")
            #expect(ServeTests.waitFor(20) { ServeTests.get(setup.base + "/readyz")?.0 == 200 })
            let after = setup.outputs()
            #expect(!after.contains(before[0]) && after.count < 2, "\(after)")
            let removed = setup.jobs().filter { $0["outputRemovedAt"] != nil && !($0["outputRemovedAt"] is NSNull) }
            #expect(!removed.isEmpty, "\(setup.jobs())")
            // A restart does not mistake the swept outputs for lost ones.
            setup.stop(daemon)
            let again = try setup.start()
            defer { if again.process.isRunning { again.process.terminate() } }
            usleep(3_000_000)
            #expect(!again.log.contains("output folder is missing"), "\(again.log)")
            setup.stop(again)
        }
    }

    @Test("durable outputs: every file, the working folder, the rename, the output root, and only then the job store, in that order (strace)")
    func fsyncOrder() throws {
        guard let strace = findOnPath("strace") else { return }
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir, process: "{explain_stride: 5, samples: 1, video: true, heatmaps: true}")
            let trace = "\(dir)/trace.txt"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: strace)
            p.arguments = ["-f", "-y", "-ttt", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", trace,
                           try SNNA.binary(), "serve", "--config", setup.config]
            let log = "\(dir)/serve.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            defer { if p.isRunning { p.terminate() } }
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(clip, as: "durable.mp4")
            #expect(ServeTests.waitFor(60) { setup.state(of: "durable.mp4") == "done" }, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            // SIGTERM to the daemon (strace's child); strace exits with it.
            let children = (try? String(contentsOfFile: "/proc/\(p.processIdentifier)/task/\(p.processIdentifier)/children",
                                        encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ Int32($0) }) { kill(child, SIGTERM) }
            #expect(ServeTests.waitFor(30) { !p.isRunning })
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n").map(String.init)
                .filter { !$0.contains("resumed>") || $0.contains("= 0") }
            let folder = try #require(setup.outputs().first)
            func index(_ predicate: (String) -> Bool) -> Int? { lines.firstIndex(where: predicate) }
            func lastIndex(_ predicate: (String) -> Bool) -> Int? { lines.lastIndex(where: predicate) }
            // The files of the working folder, fsynced one by one.
            let files = ["actions.jsonl", "summary.json", "overlay.mp4", ".snna-output"]
            var fileSyncs: [Int] = []
            for file in files {
                let i = index { $0.contains("fsync(") && $0.contains(".partial-") && $0.contains("/\(file)>") }
                #expect(i != nil, "no fsync of \(file): \(lines.joined(separator: "\n"))")
                if let i { fileSyncs.append(i) }
            }
            let heatmapSync = index { $0.contains("fsync(") && $0.contains(".partial-") && $0.contains("/heatmaps/") && $0.contains(".png>") }
            #expect(heatmapSync != nil)
            let workingSync = index { $0.contains("fsync(") && $0.range(of: #"\.partial-[0-9]+>"#, options: .regularExpression) != nil }
            let rename = index { $0.contains("rename") && $0.contains(".partial-") && $0.contains("/\(folder)\"") }
            let rootSync = lastIndex { $0.contains("fsync(") && $0.hasSuffix("= 0") && $0.contains("<\(setup.output)>") }
            let storeSync = lastIndex { ($0.contains("fsync(") || $0.contains("fdatasync(")) && $0.contains("jobs.sqlite") }
            let w = try #require(workingSync), r = try #require(rename), root = try #require(rootSync), store = try #require(storeSync)
            #expect(fileSyncs.allSatisfy { $0 < w } && (heatmapSync ?? Int.max) < w)
            #expect(w < r && r < root && root < store, "working \(w) rename \(r) root \(root) store \(store)")
        }
    }

    @Test("a done job whose output folder vanished is queued again at start and redone, never silently lost")
    func lostOutputIsRedone() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir)
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(clip, as: "keep.mp4")
            #expect(ServeTests.waitFor(60) { setup.state(of: "keep.mp4") == "done" }, "\(daemon.log)")
            setup.stop(daemon)
            let folder = setup.output + "/" + setup.outputs()[0]
            try FileManager.default.removeItem(atPath: folder)
            let again = try setup.start()
            defer { if again.process.isRunning { again.process.terminate() } }
            #expect(ServeTests.waitFor(60) { FileManager.default.fileExists(atPath: folder + "/actions.jsonl") }, "\(again.log)")
            #expect(again.log.contains("output folder is missing; queued again"), "\(again.log)")
            setup.stop(again)
        }
    }

    @Test("awkward inputs: two files with the same stem, a 250-byte name, clips of 0.9, 1.5 and 2.9 MiB — each done once, in its own folder")
    func awkwardNamesAndSizes() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir, extra: "workers: 2")
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            let a = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "a.mp4", in: dir)
            let b = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.5) + MediaTools.x264, output: "b.mp4", in: dir)
            try FileManager.default.createDirectory(atPath: "\(dir)/in/cam1", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(dir)/in/cam2", withIntermediateDirectories: true)
            try setup.drop(a, as: "cam1/FILE0001.MP4")
            try setup.drop(b, as: "cam2/FILE0001.MP4")
            let long = String(repeating: "x", count: 246) + ".mp4"
            #expect(long.utf8.count == 250)
            let c = try MediaTools.ffmpeg(MediaTools.source(seconds: 0.7) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(c, as: long)
            // Padded with a trailing 'free' box (valid ISO BMFF) to sizes around the fingerprint's 1 MiB buffer.
            for (name, size) in [("s09.mp4", 943_718), ("s15.mp4", 1_572_864), ("s29.mp4", 3_040_870)] {
                var data = try Data(contentsOf: URL(fileURLWithPath: a))
                let pad = size - data.count
                data += [UInt8(pad >> 24 & 0xFF), UInt8(pad >> 16 & 0xFF), UInt8(pad >> 8 & 0xFF), UInt8(pad & 0xFF)]
                data += Array("free".utf8)
                data += [UInt8](repeating: UInt8(size % 251), count: pad - 8)
                #expect(data.count == size)
                try data.write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
                try setup.drop("\(dir)/\(name)", as: name)
            }
            #expect(ServeTests.waitFor(180) {
                let jobs = setup.jobs()
                return jobs.count == 6 && jobs.allSatisfy { ($0["state"] as? String) == "done" }
            }, "\(setup.jobs()) \(daemon.log)")
            let outputs = setup.outputs()
            #expect(outputs.count == 6, "\(outputs)")
            #expect(outputs.filter { $0.hasPrefix("FILE0001-") }.count == 2)
            #expect(outputs.allSatisfy { $0.utf8.count <= 200 })
            #expect(outputs.contains { $0.hasPrefix("xxxxxxxx") })
            #expect(!daemon.log.contains("cannot queue a file"), "\(daemon.log)")
            setup.stop(daemon)
        }
    }

    @Test("a watch root removed and re-created is watched again; a file dropped into the new one is done")
    func watchRootRecreated() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir)
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            #expect(ServeTests.waitFor(20) { daemon.log.contains("\"message\":\"ready\"") })
            try FileManager.default.removeItem(atPath: "\(dir)/in")
            #expect(ServeTests.waitFor(20) { daemon.log.contains("root_gone") }, "\(daemon.log)")
            try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
            #expect(ServeTests.waitFor(30) { daemon.log.contains("root_back") }, "\(daemon.log)")
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(clip, as: "after.mp4")
            #expect(ServeTests.waitFor(60) { setup.state(of: "after.mp4") == "done" }, "\(setup.jobs()) \(daemon.log)")
            let metrics = ServeTests.get(setup.base + "/metrics")?.1 ?? ""
            #expect(metrics.contains("snna_missing_watch_roots 0"), "\(metrics)")
            setup.stop(daemon)
        }
    }

    @Test("a FIFO in a watch folder, and one swapped in for a closed file, are never read; the daemon goes on")
    func fifosAreNeverRead() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir)
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            #expect(ServeTests.waitFor(20) { daemon.log.contains("\"message\":\"ready\"") })
            #expect(mkfifo("\(dir)/in/pipe.mp4", 0o644) == 0)
            // A regular file closed after writing, then replaced by a FIFO under the same name at once.
            try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: "\(dir)/in/swap.mp4"))
            try FileManager.default.removeItem(atPath: "\(dir)/in/swap.mp4")
            #expect(mkfifo("\(dir)/in/swap.mp4", 0o644) == 0)
            let clip = try MediaTools.ffmpeg(MediaTools.source(seconds: 1) + MediaTools.x264, output: "c.mp4", in: dir)
            try setup.drop(clip, as: "good.mp4")
            #expect(ServeTests.waitFor(60) { setup.state(of: "good.mp4") == "done" }, "\(setup.jobs()) \(daemon.log)")
            // Nothing is stuck on either FIFO: no job is running, and none for them is done.
            usleep(2_000_000)
            let jobs = setup.jobs()
            #expect(!jobs.contains { ($0["state"] as? String) == "running" }, "\(jobs)")
            #expect(!jobs.contains { ($0["path"] as? String)?.hasSuffix("pipe.mp4") == true }, "\(jobs)")
            #expect(setup.state(of: "swap.mp4") != "done", "\(jobs)")
            #expect(ServeTests.get(setup.base + "/healthz")?.0 == 200)
            setup.stop(daemon)
            #expect(daemon.process.terminationStatus == 0)
        }
    }

    @Test("snna jobs list and retry work on a running daemon's state folder")
    func jobsRetry() throws {
        try withTemporaryFolder { dir in
            let setup = try Setup(dir: dir)
            let daemon = try setup.start()
            defer { if daemon.process.isRunning { daemon.process.terminate() } }
            try Self.craftedFile("\(dir)/bad.mp4")
            try setup.drop("\(dir)/bad.mp4", as: "bad.mp4")
            #expect(ServeTests.waitFor(30) { setup.state(of: "bad.mp4") == "failed" }, "\(daemon.log)")
            let list = try SNNA.run(["jobs", "list", "--config", setup.config, "--state", "failed"], in: dir)
            #expect(list.status == 0 && list.out.contains("bad.mp4") && list.out.contains("failed"), "\(list)")
            let id = try #require(setup.job(endingWith: "bad.mp4")?["id"] as? Int)
            let retry = try SNNA.run(["jobs", "retry", "--config", setup.config, String(id)], in: dir)
            #expect(retry.status == 0 && retry.out.contains("queued job \(id) again"), "\(retry)")
            // The daemon takes it again by itself (and it fails again: the file is still bad).
            #expect(ServeTests.waitFor(30) {
                daemon.log.split(separator: "\n").filter { $0.contains("\"message\":\"processing\"") && $0.contains("bad.mp4") }.count == 2
            }, "\(daemon.log)")
            #expect(ServeTests.waitFor(30) { setup.state(of: "bad.mp4") == "failed" })
            let notFailed = try SNNA.run(["jobs", "retry", "--config", setup.config, "999"], in: dir)
            #expect(notFailed.status != 0 && notFailed.err.contains("no job 999"), "\(notFailed)")
            let all = try SNNA.run(["jobs", "retry", "--config", setup.config, "--all-failed"], in: dir)
            #expect(all.status == 0 && all.out.contains("queued 1 failed job again"), "\(all)")
            setup.stop(daemon)
        }
    }

    @Test("check-config refuses every overlap of output with state, model and watch folders (exit 78, keys named)")
    func overlappingPathsExit78() throws {
        try withTemporaryFolder { dir in
            let cases = [
                ("output: \(dir)/x\nstate: \(dir)/x/state\nwatch: [\(dir)/in]\nmodel: \(dir)/m.st", "'output', 'state'"),
                ("output: \(dir)/x\nstate: \(dir)/s\nwatch: [\(dir)/in]\nmodel: \(dir)/x/m.st", "'output', 'model'"),
                ("output: \(dir)/x\nstate: \(dir)/s\nwatch: [\(dir)/x/cam]\nmodel: \(dir)/m.st", "'output', 'watch[0]'"),
                ("output: \(dir)/in/x\nstate: \(dir)/s\nwatch: [\(dir)/in]\nmodel: \(dir)/m.st", "'output', 'watch[0]'"),
            ]
            for (yaml, keys) in cases {
                try yaml.write(toFile: "\(dir)/c.yaml", atomically: true, encoding: .utf8)
                let run = try SNNA.run(["check-config", "\(dir)/c.yaml"], in: dir)
                #expect(run.status == 78 && run.err.contains(keys), "\(yaml): \(run)")
                let serve = try SNNA.run(["serve", "--config", "\(dir)/c.yaml"], in: dir)
                #expect(serve.status == 78 && serve.err.contains(keys), "\(yaml): \(serve)")
            }
        }
    }
}

/// Fills `disk` with `path` until `leaving` bytes stay free (grows or shrinks the file).
func fill(_ path: String, leaving: Int, on disk: String) throws {
    var st = statvfs()
    guard statvfs(disk, &st) == 0 else { throw CLITestError.failed("statvfs \(disk)") }
    let free = Int(st.f_bavail) * Int(st.f_frsize)
    let current = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    let target = max(0, current + free - leaving)
    if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    if target < current {
        try handle.truncate(atOffset: UInt64(target))
    } else {
        try handle.seekToEnd()
        var remaining = target - current
        let block = Data(repeating: 0xAB, count: 64 << 10)
        while remaining > 0 {
            let n = min(remaining, block.count)
            try handle.write(contentsOf: block.prefix(n))
            remaining -= n
        }
    }
}

/// Runs a command, true when it exits 0.
func runProcessQuietly(_ executable: String, _ arguments: [String]) -> Bool {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return false }
    p.waitUntilExit()
    return p.terminationStatus == 0
}
