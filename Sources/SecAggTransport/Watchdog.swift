import NIOCore
import Synchronization

/// Runs `body` in the current task; if it has not finished after `timeout`, closes `channel` (which ends any
/// pending read) and reports `failure` instead of whatever error the close caused.
///
/// The body runs inline rather than in a child task, so it may use non-`Sendable` state such as a channel's
/// inbound iterator.
func withWatchdog<Result>(
    _ timeout: Duration, closing channel: any Channel, failure: TransportError,
    _ body: () async throws -> Result
) async throws -> Result {
    let fired = WatchdogFlag()
    let outcome: Swift.Result<Result, any Error> = await withTaskGroup(of: Void.self) { group in
        group.addTask {
            do {
                try await Task.sleep(for: timeout)
            } catch {
                return  // cancelled: the body finished first
            }
            fired.set()
            channel.close(promise: nil)
        }
        defer { group.cancelAll() }
        do {
            return .success(try await body())
        } catch {
            return .failure(error)
        }
    }
    // The timer task has ended here (the group waits for it), so the flag is final: if it fired, the channel is
    // closed, and a result the body produced at the same instant must not be reported as a success on a dead
    // connection.
    if fired.isSet { throw failure }
    return try outcome.get()
}

/// A one-way flag shared between the watchdog and the task it guards.
private final class WatchdogFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .sequentiallyConsistent) }

    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
