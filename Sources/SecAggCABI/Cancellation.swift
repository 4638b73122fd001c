import CSecAgg
import NIOConcurrencyHelpers

/// The object behind a `secagg_cancel` handle: a permanent "cancelled" flag and the tasks to cancel with it.
final class CancelHandle: Sendable {
    private struct State {
        var triggered = false
        var nextToken = 0
        var tasks: [Int: Task<Void, Never>] = [:]
    }

    /// NIO's pthread lock, which ThreadSanitizer sees (Synchronization.Mutex's contended path it does not).
    private let state = NIOLockedValueBox(State())

    var isTriggered: Bool { state.withLockedValue { $0.triggered } }

    /// Cancels `task` when the handle is triggered (at once if it already was).
    ///
    /// - Returns: the token for ``unregister(_:)``.
    func register(_ task: Task<Void, Never>) -> Int {
        let (token, triggered) = state.withLockedValue { state in
            state.nextToken += 1
            if !state.triggered { state.tasks[state.nextToken] = task }
            return (state.nextToken, state.triggered)
        }
        if triggered { task.cancel() }
        return token
    }

    /// Forgets a task that has finished.
    func unregister(_ token: Int) {
        _ = state.withLockedValue { $0.tasks.removeValue(forKey: token) }
    }

    /// Sets the flag and cancels every registered task.
    func trigger() {
        let tasks = state.withLockedValue { state in
            state.triggered = true
            defer { state.tasks = [:] }
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }
}

/// `secagg_cancel_create`: a new, untriggered cancellation handle.
@_cdecl("secagg_cancel_create")
public func secaggCancelCreate(_ cancelOut: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    cCall {
        Handle.store(CancelHandle(), in: try required(cancelOut, "cancel_out"))
    }
}

/// `secagg_cancel_trigger`: cancels the calls using the handle; safe from any thread.
@_cdecl("secagg_cancel_trigger")
public func secaggCancelTrigger(_ cancel: OpaquePointer?) {
    (try? Handle.object(cancel, as: CancelHandle.self, "cancel"))?.trigger()
}

/// `secagg_cancel_free`: releases a cancellation handle.
@_cdecl("secagg_cancel_free")
public func secaggCancelFree(_ cancel: OpaquePointer?) {
    Handle.release(cancel, as: CancelHandle.self)
}
