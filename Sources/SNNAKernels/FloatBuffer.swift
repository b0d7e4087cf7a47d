import Synchronization

/// An owned float32 buffer (zero-initialised unless asked otherwise) for the engine's large working arrays (activations, N×N scratch).
/// A class so it can be passed around without copies; not shared between threads.
///
/// Storage comes from `BufferRecycler`: a frame allocates the same few hundred MiB of buffers as the previous one,
/// and taking them fresh from the kernel each time (glibc maps blocks over 32 MiB and unmaps them on free) cost
/// about a third of the run time in page faults.
public final class FloatBuffer {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// `zeroed: false` skips the clearing for buffers the caller overwrites completely before reading.
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0)
        self.count = count
        pointer = BufferRecycler.shared.take(max(count, 1))
        if zeroed { pointer.update(repeating: 0, count: max(count, 1)) } else { pointer[0] = 0 }
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { pointer.update(from: base, count: values.count) }
        }
    }

    deinit { BufferRecycler.shared.give(pointer, count: max(count, 1)) }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// A pointer to element `offset`.
    @inline(__always) public func at(_ offset: Int) -> UnsafeMutablePointer<Float> { pointer + offset }
}

/// Keeps freed float blocks of 64 KiB or more, by exact size, for the next buffer of that size. Bounded: beyond
/// `capacityBytes` the oldest blocks are released, so a process that moves between input sizes stays flat too.
public final class BufferRecycler: Sendable {
    public static let shared = BufferRecycler(capacityBytes: 2 << 30)
    static let minimumRecycledCount = (64 << 10) / MemoryLayout<Float>.stride

    private struct Block: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
        let count: Int
    }
    private struct State {
        var free: [Block] = []
        var bytes = 0
    }
    private let state = Mutex(State())
    public let capacityBytes: Int

    public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count >= BufferRecycler.minimumRecycledCount {
            let hit: UnsafeMutablePointer<Float>? = state.withLock { s in
                guard let i = s.free.lastIndex(where: { $0.count == count }) else { return nil }
                s.bytes -= count * MemoryLayout<Float>.stride
                return s.free.remove(at: i).pointer
            }
            if let hit { return hit }
        }
        return .allocate(capacity: count)
    }

    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        guard count >= BufferRecycler.minimumRecycledCount else {
            pointer.deallocate()
            return
        }
        let bytes = count * MemoryLayout<Float>.stride
        let evicted: [Block] = state.withLock { s in
            s.free.append(Block(pointer: pointer, count: count))
            s.bytes += bytes
            var out: [Block] = []
            while s.bytes > capacityBytes, !s.free.isEmpty {
                let old = s.free.removeFirst()
                s.bytes -= old.count * MemoryLayout<Float>.stride
                out.append(old)
            }
            return out
        }
        for b in evicted { b.pointer.deallocate() }
    }

    /// Releases every cached block (for callers that are done with the engine for a while).
    public func releaseAll() {
        let all = state.withLock { s -> [Block] in
            defer { s = State() }
            return s.free
        }
        for b in all { b.pointer.deallocate() }
    }

    public var cachedBytes: Int { state.withLock { $0.bytes } }
}
