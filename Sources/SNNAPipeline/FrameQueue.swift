import Dispatch
import Synchronization

/// A bounded, blocking, single-producer single-consumer queue: the decoder runs ahead of the compute by at most
/// `capacity` frames, so memory stays flat for a file of any length.
final class FrameQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var closed = false
    }
    private let state = Mutex(State())
    private let slots: DispatchSemaphore
    private let available = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        // Start at 0 and signal up to the capacity: libdispatch traps when a semaphore is freed below its initial
        // value, which a queue dropped with frames still in it would be.
        slots = DispatchSemaphore(value: 0)
        for _ in 0..<max(1, capacity) { slots.signal() }
    }

    /// Blocks while the queue is full. Returns false once the consumer has closed it (stop producing).
    func push(_ item: Element) -> Bool {
        slots.wait()
        let accepted = state.withLock { s -> Bool in
            if s.closed { return false }
            s.items.append(item)
            return true
        }
        if accepted { available.signal() }
        return accepted
    }

    /// Marks the end; a consumer waiting in pop gets nil once the queue is drained.
    func close() {
        state.withLock { $0.closed = true }
        available.signal()
        slots.signal()  // unblock a producer waiting for a slot
    }

    /// Blocks until an item or the end. nil means closed and drained.
    func pop() -> Element? {
        while true {
            available.wait()
            let result = state.withLock { s -> (Element?, Bool) in
                if s.head < s.items.count {
                    let item = s.items[s.head]
                    s.head += 1
                    if s.head > 64 && s.head * 2 > s.items.count {
                        s.items.removeFirst(s.head)
                        s.head = 0
                    }
                    return (item, false)
                }
                return (nil, s.closed)
            }
            if let item = result.0 {
                slots.signal()
                return item
            }
            if result.1 {
                available.signal()  // let any later pop see the end too
                return nil
            }
        }
    }
}
