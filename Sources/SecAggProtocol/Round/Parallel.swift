import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Data-parallel loops for the CPU-bound steps of a round (unmasking), on plain threads.
///
/// Results land in disjoint slots of one preallocated buffer and are read only after every worker has finished
/// (`concurrentPerform` returns then), so no lock is needed. The output does not depend on `workers`.
public enum Parallel {
    /// `[body(0), body(1), …, body(count − 1)]`, computed on up to `workers` threads.
    static func map<Element: Sendable>(
        count: Int, workers: Int, _ body: @Sendable (Int) -> Element
    ) -> [Element] {
        guard count > 0 else { return [] }
        let threads = min(max(1, workers), count)
        if threads == 1 { return (0..<count).map(body) }
        let slots = Slots<Element>(count: count)
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            for item in stride(from: worker, to: count, by: threads) {
                slots.store(body(item), at: item)
            }
        }
        return slots.collect()
    }

    /// How many threads the machine can run at once (at least 1).
    public static var processorCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Write-once slots shared by the workers of one ``map`` call; each index is written by exactly one worker.
    private final class Slots<Element: Sendable>: @unchecked Sendable {
        private let buffer: UnsafeMutableBufferPointer<Element?>

        init(count: Int) {
            buffer = .allocate(capacity: count)
            buffer.initialize(repeating: nil)
        }

        deinit {
            buffer.deinitialize()
            buffer.deallocate()
        }

        func store(_ element: Element, at index: Int) { buffer[index] = element }

        func collect() -> [Element] {
            buffer.map { element in
                guard let element else { preconditionFailure("every slot is filled before collect") }
                return element
            }
        }
    }
}
