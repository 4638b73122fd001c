import NIOConcurrencyHelpers

/// Wakes one waiting task: ``wait()`` suspends until ``wake()`` is called or the waiting task is cancelled. A wake
/// with nobody waiting is kept for the next wait, so a wake that races a wait is never lost.
///
/// The scheduler waits on it for a change (a join, an admin request, the gather window's end) instead of polling.
final class WakeSignal: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var pending = false
    }

    private let state = NIOLockedValueBox(State())

    /// Suspends until the next ``wake()`` (or returns at once if one came since the last wait), or until the
    /// calling task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
    }

    /// Resumes the waiting task, or keeps the wake for the next ``wait()``.
    func wake() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }
}
