import Dispatch
import Synchronization

/// The engine's own thread pool: every parallel loop of the forward and backward runs here, and OpenBLAS runs
/// single-threaded inside it. Owning the threads lets softmax, LayerNorm, GELU and the attention chains use every
/// core too (with OpenBLAS's threads they ran on one core while its workers spun), and never oversubscribes:
/// BLAS threads (1) × workers (`threads`) ≤ cores.
public enum Parallel {
    private static let configured = Atomic<Int>(0)

    /// Worker threads for the engine's loops (default: every core).
    public static var threads: Int {
        let t = configured.load(ordering: .relaxed)
        if t > 0 { return t }
        configure(threads: defaultThreads)
        return configured.load(ordering: .relaxed)
    }

    public static var defaultThreads: Int { max(1, sysconfCores()) }

    /// Sets the worker count and pins OpenBLAS to one thread, so the two never multiply.
    public static func configure(threads: Int) {
        BLAS.setThreads(1)
        configured.store(max(1, threads), ordering: .relaxed)
    }

    /// Calls `body(item, worker)` for every item in 0..<count, items handed out dynamically to at most `threads`
    /// (and at most `maxWorkers`) workers; `worker` (0..<that) indexes per-worker scratch, so a caller with a fixed
    /// number of scratch slots passes it as `maxWorkers`. Returns when all items are done.
    public static func forEach(_ count: Int, maxWorkers: Int = Int.max, _ body: (_ item: Int, _ worker: Int) -> Void) {
        let workers = min(threads, count, max(1, maxWorkers))
        if workers <= 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                while true {
                    let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if i >= count { break }
                    box.value(i, worker)
                }
            }
        }
    }

    /// Splits 0..<count into about `threads` contiguous chunks of at least `minimum` items and runs them in parallel.
    public static func forEachChunk(_ count: Int, minimum: Int = 1, _ body: (_ range: Range<Int>) -> Void) {
        let chunks = max(1, min(threads, count / max(minimum, 1)))
        if chunks == 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        forEach(chunks) { c, _ in
            let lo = c * size, hi = min(count, lo + size)
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Carries a non-Sendable closure into Dispatch's worker threads; the callers above guarantee the closure only
/// touches disjoint data per item.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

#if canImport(Glibc)
import Glibc
private func sysconfCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#else
import Foundation
private func sysconfCores() -> Int { ProcessInfo.processInfo.activeProcessorCount }
#endif
