import NIOCore
import NIOEmbedded
@testable import SecAggTransport
import Testing

/// The watchdog that bounds handshakes and receives.
@Suite("Watchdog")
struct WatchdogTests {
    /// A connected in-memory channel.
    static func activeChannel() async throws -> NIOAsyncTestingChannel {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1))
        return channel
    }

    // Proves the watchdog reports its failure and closes the channel when the body overruns.
    @Test("an overrunning body fails with the given error and the channel is closed")
    func fires() async throws {
        let channel = try await Self.activeChannel()
        let start = ContinuousClock.now
        let result = await outcome {
            try await withWatchdog(.milliseconds(100), closing: channel, failure: .idleTimeout) {
                // Ends (with an unrelated error) only once the watchdog has closed the channel.
                try await channel.closeFuture.get()
                throw TransportError.connectionClosed
            }
        }
        #expect(result.transportError == .idleTimeout)
        #expect(seconds(since: start) >= 0.1)
        await channel.testingEventLoop.run()
        #expect(!channel.isActive)
    }

    // Proves a body that finishes in time returns its value, and the channel stays open.
    @Test("a body that finishes in time returns its value and leaves the channel open")
    func doesNotFire() async throws {
        let channel = try await Self.activeChannel()
        let value = try await withWatchdog(.seconds(5), closing: channel, failure: .idleTimeout) { 42 }
        #expect(value == 42)
        try await Task.sleep(for: .milliseconds(20))
        await channel.testingEventLoop.run()
        #expect(channel.isActive)
    }

    // Proves the watchdog never reports success while closing the channel: when the body finishes at the same
    // instant as the timeout, either the body's value comes back and the channel stays open, or the failure
    // comes back and the channel is closed.
    @Test("success is never reported on a channel the watchdog closed")
    func noSuccessOnClosedChannel() async throws {
        var mismatches = 0
        for attempt in 0..<400 {
            let channel = try await Self.activeChannel()
            let delay = Duration.microseconds(200 + attempt % 7 * 10)
            let result = await outcome {
                try await withWatchdog(.microseconds(200), closing: channel, failure: .idleTimeout) {
                    try await Task.sleep(for: delay)
                    return attempt
                }
            }
            await channel.testingEventLoop.run()
            switch result {
            case .success: if !channel.isActive { mismatches += 1 }
            case .failure: #expect(result.transportError == .idleTimeout)
            }
            _ = try? await channel.finish()
        }
        #expect(mismatches == 0, "\(mismatches) successes on a closed channel")
    }
}
