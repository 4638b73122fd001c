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
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await Task.sleep(for: timeout)
            fired.set()
            channel.close(promise: nil)
        }
        do {
            let result = try await body()
            group.cancelAll()
            if fired.isSet { throw failure }
            return result
        } catch {
            group.cancelAll()
            throw fired.isSet ? failure : error
        }
    }
}

/// A one-way flag shared between the watchdog and the task it guards.
private final class WatchdogFlag: Sendable {
    private let value = Atomic<Bool>(false)

    func set() { value.store(true, ordering: .sequentiallyConsistent) }

    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}
