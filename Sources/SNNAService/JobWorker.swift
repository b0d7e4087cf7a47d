import CSNNASystem
import Dispatch
import Foundation
import SNNAKernels
import SNNAModel
import SNNAPipeline
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worker side of crash isolation (issue 14 §1): `snna worker`, re-executed by `snna serve` for each job. It
/// reads one `WorkerRequest` from stdin, runs the pipeline, and reports on stdout as `WorkerMessage` lines. Whatever
/// happens to it — a trap on a hostile file, a runaway allocation, a hang — happens to this process only; the daemon
/// reaps it and decides what becomes of the job.
public enum JobWorker {
    /// Runs the job read from stdin; returns the exit status (0 done, 1 failed, 3 cancelled, 2 bad request).
    public static func run() -> Int32 {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        let request: WorkerRequest
        do {
            request = try JSONDecoder().decode(WorkerRequest.self, from: input)
        } catch {
            FileHandle.standardError.write(Data("snna worker: error: no valid job on stdin (\(error))\n".utf8))
            return 2
        }
        // Dies with its supervisor: a daemon killed with -9 must not leave a worker writing on.
        _ = csys_set_parent_death_signal(SIGKILL)
        if getppid() != request.parent { return 2 }
        // When memory runs out the kernel should take a worker (one job) rather than the daemon (all of them).
        try? "500".write(toFile: "/proc/self/oom_score_adj", atomically: false, encoding: .utf8)
        if let limit = request.addressSpaceLimit, csys_limit_address_space(limit) != 0 {
            FileHandle.standardError.write(Data("snna worker: cannot limit the address space: \(String(cString: strerror(errno)))\n".utf8))
        }
        let stopping = Atomic<Bool>(false)
        let signals = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stopping.store(true, ordering: .releasing) }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }

        do {
            if request.threads > 0 { Parallel.configure(threads: request.threads) }
            let engine = try ViTEngine(model: try ModelFile.load(path: request.model))
            let processor = try VideoProcessor(engine: engine, settings: request.settings, quiet: true)
            processor.warn = { send(WorkerMessage(kind: .warning, text: $0)) }
            processor.shouldStop = { stopping.load(ordering: .acquiring) }
            processor.onProgress = { frames, expected in send(WorkerMessage(kind: .progress, frames: frames, expected: expected)) }
            send(WorkerMessage(kind: .started))
            let result = try processor.process(input: request.input, outputRoot: request.outputRoot,
                                               outputName: request.outputName, identity: request.identity)
            send(WorkerMessage(kind: .done, outputFolder: result.outputFolder, summary: result.summary))
            return 0
        } catch is PipelineCancelled {
            send(WorkerMessage(kind: .cancelled))
            return 3
        } catch {
            let text = "\(error)"
            send(WorkerMessage(kind: .failed, text: text, transient: TransientFailure.matches(text)))
            return 1
        }
    }

    private static let output = Mutex(())

    /// One message, one line, one write(2) (never interleaved between the decoder and the main thread).
    static func send(_ message: WorkerMessage) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var data = try? encoder.encode(message) else { return }
        data.append(0x0A)
        output.withLock { _ in
            data.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(1, raw.baseAddress! + done, raw.count - done)
                    if n < 0 { if errno == EINTR { continue }; return }
                    done += n
                }
            }
        }
    }
}
