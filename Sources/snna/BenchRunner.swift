import Foundation
import SNNAAttribution
import SNNAKernels
import SNNAModel

/// One measured phase of `snna bench`.
struct BenchPhase: Encodable {
    let name: String
    let seconds_median: Double
    let seconds_min: Double
    let seconds_max: Double
    let gflop: Double
    let fraction_of_limit: Double
    let peak_rss_bytes: Int?
}

struct SGEMMShape: Encodable {
    let name: String
    let m: Int, n: Int, k: Int
    let gflops: Double
}

struct ThroughputFigure: Encodable {
    let short_side: Int
    let input_size: [Int]
    let batch: Int
    let frames: Int
    let frames_per_second: Double
    let rss_after_first_batch_bytes: Int?
    let rss_after_last_batch_bytes: Int?
}

struct BenchReport: JSONReport {
    let cpu: String
    let cores: Int
    let threads: Int
    let date: String
    let model: String
    let input_size: [Int]
    let sgemm_gflops: Double
    let sgemm_shapes: [SGEMMShape]
    let phases: [BenchPhase]
    let throughput: [ThroughputFigure]
}

/// Runs the benchmark phases on one engine and prints a table as it goes.
struct BenchRunner {
    let engine: ViTEngine
    let height: Int
    let width: Int
    let batch: Int
    let repeats: Int
    let log: (String) -> Void

    var config: ViTConfig { engine.config }

    func image(height: Int, width: Int, seed: UInt64) -> ImageTensor {
        var rng = SeededRandom(seed: seed)
        return ImageTensor(channels: 3, height: height, width: width,
                           data: (0..<(3 * height * width)).map { _ in rng.gaussian() })
    }

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Median, min and max of `repeats` runs, and the peak resident set over them.
    func measure(_ name: String, gflop: Double, limit: Double, perRun: Double = 1, _ body: () throws -> Void) rethrows
        -> BenchPhase {
        ProcessMemory.resetPeak()
        var times: [Double] = []
        for _ in 0..<repeats { times.append(try seconds(body) / perRun) }
        times.sort()
        let median = times[times.count / 2]
        let phase = BenchPhase(name: name, seconds_median: median, seconds_min: times.first!, seconds_max: times.last!,
                               gflop: gflop, fraction_of_limit: gflop / median / limit,
                               peak_rss_bytes: ProcessMemory.peakBytes)
        log(row(phase))
        return phase
    }

    func row(_ p: BenchPhase) -> String {
        let rss = p.peak_rss_bytes.map { String(format: "%7.0f MiB", Double($0) / 1_048_576) } ?? "      ?    "
        return "  " + p.name.padding(toLength: 16, withPad: " ", startingAt: 0)
            + String(format: "%9.3f s  [%8.3f … %8.3f]  %8.1f GFLOP  %5.1f%% of limit  ", p.seconds_median,
                     p.seconds_min, p.seconds_max, p.gflop, 100 * p.fraction_of_limit) + rss
    }

    /// sgemm GFLOP/s on the engine's own shapes at this input size: the limit every phase is held against. Each shape
    /// is timed two ways — OpenBLAS with its own threads, and split by rows over the engine's workers with OpenBLAS
    /// single-threaded (how the engine calls it) — and the faster counts.
    func sgemm(threads: Int) -> [SGEMMShape] {
        let (rows, cols) = engine.grid(height: height, width: width)
        let n = 1 + rows * cols, d = config.dim, m = config.mlpDim, dh = config.headDim
        let shapes: [(String, Int, Int, Int, Bool)] = [
            ("qkv N·D × D·3D", n, 3 * d, d, true), ("fc1 N·D × D·M", n, m, d, true), ("fc2 N·M × M·D", n, d, m, true),
            ("QKᵀ N·dh × dh·N", n, n, dh, true), ("AV N·N × N·dh", n, dh, n, false),
        ]
        var rng = SeededRandom(seed: 1)
        return shapes.map { name, mm, nn, kk, transB in
            let a = FloatBuffer((0..<(mm * kk)).map { _ in rng.gaussian() })
            let b = FloatBuffer((0..<(kk * nn)).map { _ in rng.gaussian() })
            let c = FloatBuffer(count: mm * nn)
            let flop = 2 * Double(mm) * Double(nn) * Double(kk)
            let iterations = max(3, Int(4e9 / flop))
            func best(_ call: () -> Void) -> Double {
                var t = Double.infinity
                for _ in 0..<repeats { t = min(t, seconds { for _ in 0..<iterations { call() } } / Double(iterations)) }
                return flop / t / 1e9
            }
            BLAS.setThreads(threads)
            let own = best {
                BLAS.gemm(transB: transB, m: mm, n: nn, k: kk, a: a.pointer, lda: kk, b: b.pointer,
                          ldb: transB ? kk : nn, c: c.pointer, ldc: nn)
            }
            BLAS.setThreads(1)
            let split = best {
                BLAS.gemmRows(transB: transB, m: mm, n: nn, k: kk, a: a.pointer, lda: kk, b: b.pointer,
                              ldb: transB ? kk : nn, c: c.pointer, ldc: nn)
            }
            let figure = SGEMMShape(name: name, m: mm, n: nn, k: kk, gflops: max(own, split))
            log(String(format: "  sgemm %-18@ %6d×%-5d·%5d×%-5d %7.1f GFLOP/s (OpenBLAS threads %.1f, row-split %.1f)",
                       name as NSString, mm, kk, kk, nn, figure.gflops, own, split))
            return figure
        }
    }

    func run(methods: [ExplanationMethod], throughputFrames: Int, threads: Int) throws -> BenchReport {
        let c = config
        let modelSummary = "\(c.name ?? "model"): patch \(c.patchSize), dim \(c.dim), depth \(c.depth), heads \(c.numHeads), "
            + "mlp \(c.mlpDim), \(engine.model.weights.parameterCount) parameters"
        log("snna bench — \(cpuModelName()), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(threads) worker threads")
        log("model \(modelSummary); input \(height)×\(width)")
        let shapes = sgemm(threads: threads)
        let limit = shapes[0].gflops
        log(String(format: "limit: %.1f GFLOP/s (sgemm on the qkv shape)", limit))

        let flops = FlopModel(config: c, height: height, width: width)
        let frame = image(height: height, width: width, seed: 2)
        var phases: [BenchPhase] = []
        _ = try engine.predict([frame])  // warm-up: positional cache, page faults
        phases.append(try measure("forward", gflop: flops.forward / 1e9, limit: limit) { _ = try engine.predict([frame]) })
        let frames = (0..<batch).map { image(height: height, width: width, seed: 10 + UInt64($0)) }
        phases.append(try measure("forward_batch", gflop: flops.forward / 1e9, limit: limit, perRun: Double(batch)) {
            _ = try engine.predict(frames)
        })
        let explainer = Explainer(engine: engine)
        let options = ExplanationOptions(seed: 1)
        for method in methods {
            let gflop = flops.method(method.rawValue, samples: options.samples(for: method), steps: options.steps) / 1e9
            phases.append(try measure(method.rawValue, gflop: gflop, limit: limit) {
                _ = try explainer.explain(frame, methods: [method], options: options)
            })
        }

        var throughput: [ThroughputFigure] = []
        if throughputFrames > 0 {
            for short in [224, 360] {
                let h = short, w = short * 16 / 9
                guard (try? engine.checkGrid(height: h, width: w)) != nil else { continue }
                let input = (0..<batch).map { image(height: h, width: w, seed: 100 + UInt64($0)) }
                var firstRSS: Int?
                var done = 0
                let t = try seconds {
                    while done < throughputFrames {
                        let n = min(batch, throughputFrames - done)
                        _ = try engine.predict(Array(input.prefix(n)))
                        done += n
                        if firstRSS == nil { firstRSS = ProcessMemory.residentBytes }
                    }
                }
                let figure = ThroughputFigure(short_side: short, input_size: [h, w], batch: batch, frames: done,
                                              frames_per_second: Double(done) / t, rss_after_first_batch_bytes: firstRSS,
                                              rss_after_last_batch_bytes: ProcessMemory.residentBytes)
                let mib = { (b: Int?) in b.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "?" }
                log(String(format: "  throughput %d×%d batch %d: %.2f frames/s over %d frames; RSS %@ after the first batch, %@ after the last",
                           h, w, batch, figure.frames_per_second, done, mib(firstRSS) as NSString,
                           mib(figure.rss_after_last_batch_bytes) as NSString))
                throughput.append(figure)
            }
        }
        let date = ISO8601DateFormatter().string(from: Date())
        return BenchReport(cpu: cpuModelName(), cores: ProcessInfo.processInfo.activeProcessorCount, threads: threads,
                           date: date, model: modelSummary, input_size: [height, width], sgemm_gflops: limit,
                           sgemm_shapes: shapes, phases: phases, throughput: throughput)
    }
}

/// A report written as one pretty-printed JSON object with a trailing newline (`--json`).
protocol JSONReport: Encodable {}

extension JSONReport {
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }
}
