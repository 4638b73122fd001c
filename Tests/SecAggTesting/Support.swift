import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SecAggCoordinator
import SecAggCrypto
import SecAggTransport

/// Runs `body`, capturing its error.
package func outcomeOf<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

extension Result where Success == [UInt8]? {
    /// True if the connection ended (clean EOF, or an error other than a timeout) without delivering a message.
    package var closedWithoutMessage: Bool {
        switch self {
        case let .success(message): return message == nil
        case let .failure(error): return (error as? TransportError) != .idleTimeout
        }
    }
}

/// `count` bytes of a fixed pattern: garbage that is the same in every run.
package func patternedGarbage(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 197 &+ 0x5A) }
}

/// A Noise handshake run by hand with the harness's coordinator, for sending frames that are not valid transport
/// messages.
package struct HandshakeByHand {
    var frames: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    package static func initiate(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        identity: Ed25519.SigningKey
    ) async throws -> HandshakeByHand {
        var frames = inbound.makeAsyncIterator()
        _ = try await SecureHandshake.initiate(
            inbound: &frames, outbound: outbound, identity: identity,
            expectedPeer: ServiceHarness.coordinatorKey.verifyingKey, limits: ServiceHarness.limits)
        return HandshakeByHand(frames: frames)
    }

    package mutating func next() async throws -> ByteBuffer? {
        try await frames.next()
    }
}

/// Values collected as they happen (log entries and lines, coordinator events, exit statuses), awaitable: each
/// append re-checks what the waiters wait for, so a test waits for what it needs without polling.
package final class Collected<Element: Sendable>: Sendable {
    private struct Waiter {
        var condition: @Sendable ([Element]) -> Bool
        var continuation: CheckedContinuation<[Element]?, Never>
    }

    private struct State {
        var elements: [Element] = []
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    private let state = NIOLockedValueBox(State())

    package init() {}

    /// Everything collected so far, in order.
    package var elements: [Element] { state.withLockedValue { $0.elements } }

    package func append(_ element: Element) {
        let woken = state.withLockedValue { state -> [(CheckedContinuation<[Element]?, Never>, [Element])] in
            state.elements.append(element)
            let elements = state.elements
            let satisfied = state.waiters.filter { $0.value.condition(elements) }
            for key in satisfied.keys { state.waiters[key] = nil }
            return satisfied.values.map { ($0.continuation, elements) }
        }
        for (continuation, elements) in woken { continuation.resume(returning: elements) }
    }

    /// Everything collected, once `condition` holds for it (now or after a later append), or nil if it does not
    /// within `limit` (or the caller is cancelled).
    package func wait(
        until condition: @escaping @Sendable ([Element]) -> Bool, within limit: Duration
    ) async -> [Element]? {
        await withTaskGroup(of: [Element]?.self) { group in
            let id = state.withLockedValue { state -> Int in
                state.nextWaiter += 1
                return state.nextWaiter
            }
            group.addTask {
                await withCheckedContinuation { continuation in
                    let now = self.state.withLockedValue { state -> [Element]?? in
                        if condition(state.elements) { return .some(state.elements) }
                        if Task.isCancelled { return .some(nil) }
                        state.waiters[id] = Waiter(condition: condition, continuation: continuation)
                        return nil
                    }
                    if let now { continuation.resume(returning: now) }
                }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            // Time is up (or the condition held). Cancel first: a waiter that registers after this sees the
            // cancellation under the lock; one registered before is removed and resumed here, so the group ends.
            group.cancelAll()
            let left = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            left?.continuation.resume(returning: nil)
            return first
        }
    }

    /// The first element (collected already or to come) matching `predicate`, or nil after `limit`.
    package func first(where predicate: @escaping @Sendable (Element) -> Bool, within limit: Duration) async -> Element? {
        await wait(until: { $0.contains(where: predicate) }, within: limit)?.first(where: predicate)
    }

    /// Whether `count` elements matching `predicate` (collected already or to come) arrive within `limit`.
    package func count(
        _ count: Int, where predicate: @escaping @Sendable (Element) -> Bool, within limit: Duration
    ) async -> Bool {
        await wait(until: { $0.lazy.filter(predicate).count >= count }, within: limit) != nil
    }
}

/// Log entries collected from the coordinator.
package final class LogStore: Sendable {
    package struct Entry: Sendable {
        package var level: Logger.Level
        package var message: String
        package var metadata: [String: String]
    }

    private let collected = Collected<Entry>()

    package init() {}

    package func append(_ entry: Entry) { collected.append(entry) }

    package var entries: [Entry] { collected.elements }

    /// The first entry (logged already or to come) matching `predicate`, or nil after `limit`.
    package func first(where predicate: @escaping @Sendable (Entry) -> Bool, within limit: Duration) async -> Entry? {
        await collected.first(where: predicate, within: limit)
    }

    /// Whether `count` entries matching `predicate` (logged already or to come) arrive within `limit`.
    package func count(
        _ count: Int, where predicate: @escaping @Sendable (Entry) -> Bool, within limit: Duration
    ) async -> Bool {
        await collected.count(count, where: predicate, within: limit)
    }
}

/// A swift-log handler that records every entry (with its metadata flattened to strings) into a ``LogStore``.
package struct CapturingLogHandler: LogHandler {
    let store: LogStore
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .debug

    package init(store: LogStore) {
        self.store = store
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        store.append(LogStore.Entry(
            level: event.level, message: "\(event.message)",
            metadata: merged.mapValues { "\($0)" }))
    }
}

/// Set SECAGG_TEST_DUMP_LOGS to print the coordinator's log when a test body fails.
package enum ProcessInfoDump {
    package static var enabled: Bool { ProcessInfo.processInfo.environment["SECAGG_TEST_DUMP_LOGS"] != nil }
}

/// Collects the coordinator's events for a test; ``first(where:within:)`` awaits one.
package final class EventRecorder: CoordinatorObserver {
    private let collected = Collected<CoordinatorEvent>()

    package init() {}

    package func observe(_ event: CoordinatorEvent) {
        collected.append(event)
    }

    package var events: [CoordinatorEvent] { collected.elements }

    /// The first event (seen already or to come) matching `predicate`, or nil after `limit`.
    package func first(
        where predicate: @escaping @Sendable (CoordinatorEvent) -> Bool, within limit: Duration
    ) async -> CoordinatorEvent? {
        await collected.first(where: predicate, within: limit)
    }

    /// Whether `count` events matching `predicate` (seen already or to come) arrive within `limit`.
    package func count(
        _ count: Int, where predicate: @escaping @Sendable (CoordinatorEvent) -> Bool, within limit: Duration
    ) async -> Bool {
        await collected.count(count, where: predicate, within: limit)
    }
}

extension EventRecorder {
    /// Whether the service reports `count` open client connections for the `times`-th time within `limit`.
    package func openConnections(_ count: Int, times: Int = 1, within limit: Duration = .seconds(10)) async -> Bool {
        await self.count(times, where: { event in
            if case let .connectionsChanged(open) = event { return open == count }
            return false
        }, within: limit)
    }
}
