import Logging
import NIOConcurrencyHelpers

/// Keeps a flood of one kind of event (connections refused at accept, failed handshakes: anything an
/// unauthenticated peer can cause at will) from flooding the log: at most `limit` lines per `window`, then one
/// line saying how many were left out when the next window starts.
final class LogRateLimiter: Sendable {
    private struct State {
        var windowStart: ContinuousClock.Instant
        var logged = 0
        var suppressed = 0
    }

    let limit: Int
    let window: Duration
    private let state: NIOLockedValueBox<State>

    init(limit: Int = 20, window: Duration = .seconds(60)) {
        self.limit = max(1, limit)
        self.window = window
        state = NIOLockedValueBox(State(windowStart: ContinuousClock.now))
    }

    /// Decides whether the next line may be written now, at `now`: returns (write it, lines left out in the window
    /// that just ended, to report first).
    func admit(now: ContinuousClock.Instant = .now) -> (allowed: Bool, suppressedBefore: Int) {
        state.withLockedValue { state in
            var suppressedBefore = 0
            if now - state.windowStart >= window {
                suppressedBefore = state.suppressed
                state = State(windowStart: now)
            }
            guard state.logged < limit else {
                state.suppressed += 1
                return (false, suppressedBefore)
            }
            state.logged += 1
            return (true, suppressedBefore)
        }
    }

    /// Writes `message` at `level` if the limit allows, after a line counting what the previous window left out.
    func log(
        _ logger: Logger, level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata? = nil
    ) {
        let (allowed, suppressed) = admit()
        if suppressed > 0 {
            logger.log(level: level, "similar messages suppressed", metadata: [
                "count": "\(suppressed)", "window_seconds": "\(window.components.seconds)",
            ])
        }
        if allowed { logger.log(level: level, message(), metadata: metadata()) }
    }
}

extension ConnectionRegistry.Refusal {
    /// Logs a connection refused at accept, rate-limited.
    func log(address: String, to logger: Logger, limiter: LogRateLimiter) {
        limiter.log(logger, level: .warning, "connection refused: \(description)", metadata: ["address": "\(address)"])
    }
}
