/// A shared allowance of bytes for messages being received and not yet processed, so that many clients sending
/// large messages at once cannot make a server hold all of them in memory (SPEC §2.6.5).
///
/// A receiver reserves a message's announced size before reading its body and the consumer releases it when
/// done; while no allowance is left, receivers wait (first come, first served) and stop reading their sockets,
/// which pushes back on the senders. A single request larger than the whole limit is granted once nothing else
/// is reserved, so one large message can always get through.
public actor ByteBudget {
    public let limit: Int
    private var reserved = 0
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    /// Bytes reserved right now.
    public var inUse: Int { reserved }

    /// Waits until `bytes` can be reserved, then reserves them.
    public func reserve(_ bytes: Int) async {
        let bytes = max(0, bytes)
        if waiters.isEmpty, fits(bytes) {
            reserved += bytes
            return
        }
        await withCheckedContinuation { continuation in
            waiters.append((bytes, continuation))
        }
    }

    /// Returns `bytes` to the budget and wakes the waiters that now fit, in order.
    public func release(_ bytes: Int) {
        reserved = max(0, reserved - max(0, bytes))
        while let next = waiters.first, fits(next.bytes) {
            waiters.removeFirst()
            reserved += next.bytes
            next.continuation.resume()
        }
    }

    private func fits(_ bytes: Int) -> Bool {
        reserved + bytes <= limit || reserved == 0
    }
}
