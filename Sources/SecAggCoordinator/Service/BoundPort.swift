import NIOConcurrencyHelpers

/// The port a listener bound, for whoever waits to know it: the coordinator's client listener and the metrics
/// endpoint each publish theirs once, when they have bound (or failed to), and ``port()`` waits until then. One
/// type for every listener, with a lock ThreadSanitizer can see.
public final class BoundPort: Sendable {
    private enum State {
        case pending([CheckedContinuation<Int, any Error>])
        case listening(Int)
        case failed(String)
    }

    private let state = NIOLockedValueBox(State.pending([]))

    public init() {}

    /// The bound port, once it is known.
    ///
    /// - Throws: ``CoordinatorStartError`` if the listener could not bind its address.
    public func port() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let known: Result<Int, CoordinatorStartError>? = state.withLockedValue { state in
                switch state {
                case var .pending(waiters):
                    waiters.append(continuation)
                    state = .pending(waiters)
                    return nil
                case let .listening(port):
                    return .success(port)
                case let .failed(reason):
                    return .failure(CoordinatorStartError(reason: reason))
                }
            }
            if let known { continuation.resume(with: known) }
        }
    }

    /// The bound port if the listener is listening now (nil while binding, or if binding failed): for readiness
    /// checks that must not wait.
    public var current: Int? {
        state.withLockedValue { state in
            if case let .listening(port) = state { return port }
            return nil
        }
    }

    /// Records how binding went and wakes every waiter; only the first call counts.
    public func publish(_ outcome: Result<Int, CoordinatorStartError>) {
        let waiters: [CheckedContinuation<Int, any Error>] = state.withLockedValue { state in
            guard case let .pending(waiters) = state else { return [] }
            switch outcome {
            case let .success(port): state = .listening(port)
            case let .failure(error): state = .failed(error.reason)
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(with: outcome.mapError { $0 as any Error }) }
    }
}
