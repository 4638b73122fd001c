import NIOCore
import NIOPosix
import Synchronization

/// Runs `body` in the current task; if it has not finished after `timeout`, closes `channel` (which ends any
/// pending read) and reports `failure` instead of whatever error the close caused.
///
/// The body runs inline rather than in a child task, so it may use non-`Sendable` state such as a channel's
/// inbound iterator. The timer is an event-loop scheduled task, cancelled (and freed) as soon as the body ends: a
/// cancelled `Task.sleep` keeps its allocation until its deadline passes, which for an idle timeout of minutes
/// and one watchdog per received message made the coordinator's memory grow with every message for that long.
func withWatchdog<Result>(
    _ timeout: Duration, closing channel: any Channel, failure: TransportError,
    _ body: () async throws -> Result
) async throws -> Result {
    let state = WatchdogState()
    // A real event loop even for test channels, whose own loops only run scheduled tasks when told to.
    let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout)) {
        if state.fire() { channel.close(promise: nil) }
    }
    let outcome: Swift.Result<Result, any Error>
    do {
        outcome = .success(try await body())
    } catch {
        outcome = .failure(error)
    }
    timer.cancel()
    // Exactly one of the timer and the body wins, so a result the body produced at the same instant as the timeout
    // is never reported as a success on a connection the watchdog closed.
    guard state.disarm() else { throw failure }
    return try outcome.get()
}

/// Who won between the watchdog's timer and the body it guards: settled once, by whichever comes first.
private final class WatchdogState: Sendable {
    private static let armed: UInt8 = 0, fired: UInt8 = 1, disarmed: UInt8 = 2
    private let value = Atomic<UInt8>(WatchdogState.armed)

    /// The timer's turn: true if it fired before the body finished.
    func fire() -> Bool {
        value.compareExchange(expected: Self.armed, desired: Self.fired, ordering: .sequentiallyConsistent).exchanged
    }

    /// The body's turn: true if it finished before the timer fired.
    func disarm() -> Bool {
        value.compareExchange(expected: Self.armed, desired: Self.disarmed, ordering: .sequentiallyConsistent).exchanged
    }
}
