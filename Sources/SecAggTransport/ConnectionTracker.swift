import NIOCore
import NIOConcurrencyHelpers

/// Keeps every connection a listener accepted until it is closed, and closes the ones still being set up when the
/// listener stops.
///
/// A listener's accepted connections reach its accept loop through a buffered stream. When the listener stops (a
/// graceful shutdown closes it, or its task is cancelled) connections accepted at that instant may never be taken
/// from the stream; their writer is then released on an open channel, which swift-nio treats as a programming
/// error and traps on (swift-nio issue 2637: the daemon crashed with SIGILL when stopped during a burst of
/// connections). Holding each accepted connection here from its channel initializer until its channel closes
/// means none is released open, and ``closeUnestablished()`` ends those that never got far enough to matter.
public final class ConnectionTracker<Inbound: Sendable, Outbound: Sendable>: Sendable {
    private struct Entry: Sendable {
        let connection: NIOAsyncChannel<Inbound, Outbound>
        var established = false
    }

    private let entries = NIOLockedValueBox<[ObjectIdentifier: Entry]>([:])

    public init() {}

    /// Holds `connection` until its channel closes; call from the listener's channel initializer.
    @discardableResult
    public func track(_ connection: NIOAsyncChannel<Inbound, Outbound>) -> NIOAsyncChannel<Inbound, Outbound> {
        let id = ObjectIdentifier(connection.channel)
        entries.withLockedValue { $0[id] = Entry(connection: connection) }
        connection.channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.entries.withLockedValue { $0.removeValue(forKey: id) }
        }
        return connection
    }

    /// Marks a connection that reached a state its owner closes itself (a client that joined a task); it is left
    /// open by ``closeUnestablished()``.
    public func markEstablished(_ channel: any Channel) {
        entries.withLockedValue { $0[ObjectIdentifier(channel)]?.established = true }
    }

    /// Connections open now.
    public var count: Int { entries.withLockedValue { $0.count } }

    /// Closes every connection not marked established (accepted but never served, or still in their handshake or
    /// join) and waits until they are closed.
    public func closeUnestablished() async {
        let pending = entries.withLockedValue { $0.values.filter { !$0.established }.map(\.connection.channel) }
        for channel in pending {
            try? await channel.close()
        }
    }
}
