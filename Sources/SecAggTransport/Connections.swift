import NIOCore
import NIOPosix
import SecAggCrypto

/// Opening TCP connections and listeners with secagg's pipeline: frame decoder and encoder, then an async
/// channel of whole frames with bounded inbound buffering (when the buffer is full NIO stops reading the socket,
/// so a slow consumer pushes back on the sender instead of growing memory).
public enum SecureTransport {
    /// Binds a listening socket; iterate the returned channel's inbound stream for new connections.
    ///
    /// - Throws: NIO's error if the address cannot be bound.
    /// Every accepted connection is held by `tracker` (if given) until it closes, so none is released open when the
    /// listener stops (see ``ConnectionTracker``).
    public static func listen(
        host: String, port: Int, limits: TransportLimits, backlog: Int32 = 256,
        tracker: ConnectionTracker<ByteBuffer, ByteBuffer>? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<FrameChannel, Never> {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Small reads: with many connections uploading at once, what NIO reads ahead of the consumer is bounded
            // per connection by the frame buffer plus one read; the rest waits in the kernel.
            .childChannelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 1024))
            // NIO keeps up to `maxMessagesPerRead` receive buffers per channel for reuse and never gives them back:
            // a buffer still referenced by a partly assembled frame cannot be reused, so a connection that uploads
            // for a while fills the pool. One read per wake-up keeps one 16 KiB buffer per connection: at 1,000 TCP
            // clients (dimension 10^5) the coordinator's peak RSS went from 101-116 MiB (two) to 91 MiB, and the
            // round's wall time stayed within noise (12.6 s against 12.8-13.2 s; the clients were the bottleneck).
            .childChannelOption(.maxMessagesPerRead, value: 1)
            // Likewise for sending: a slow reader holds at most this much of our ciphertext in user space.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 4 * 1024, high: 16 * 1024))
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try configure(channel, limits: limits)
                    tracker?.track(connection)
                    return connection
                }
            }
    }

    /// Opens a TCP connection (no handshake yet).
    ///
    /// - Throws: NIO's error if the connection fails.
    public static func connect(
        host: String, port: Int, limits: TransportLimits, timeout: Duration = .seconds(10),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FrameChannel {
        let milliseconds = Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        return try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(milliseconds))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try configure(channel, limits: limits) }
            }
    }

    /// Serves one accepted connection as the responder: runs the handshake within the handshake timeout, then
    /// `body` with the session and its receiver. The connection is closed when `body` returns or throws.
    ///
    /// - Throws: ``TransportError`` from the handshake, or whatever `body` throws.
    public static func serve<Result: Sendable>(
        _ channel: FrameChannel, identity: Ed25519.SigningKey, limits: TransportLimits,
        authorize: @escaping @Sendable (Ed25519.VerifyingKey) -> PeerRefusal?,
        _ body: (SecureSession, inout SecureReceiver) async throws -> Result
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let session = try await withWatchdog(
                limits.handshakeTimeout, closing: channel.channel, failure: .handshakeTimedOut
            ) {
                try await SecureHandshake.respond(
                    inbound: &frames, outbound: outbound, identity: identity, limits: limits, authorize: authorize)
            }
            var receiver = SecureReceiver(frames: frames, session: session, channel: channel.channel)
            return try await body(session, &receiver)
        }
    }

    /// Runs the initiator's handshake on a new connection, pinning the responder's identity, then `body`.
    /// The connection is closed when `body` returns or throws.
    ///
    /// - Throws: ``TransportError`` from the handshake, or whatever `body` throws.
    public static func initiate<Result: Sendable>(
        _ channel: FrameChannel, identity: Ed25519.SigningKey, expectedPeer: Ed25519.VerifyingKey,
        limits: TransportLimits, _ body: (SecureSession, inout SecureReceiver) async throws -> Result
    ) async throws -> Result {
        try await channel.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let session = try await withWatchdog(
                limits.handshakeTimeout, closing: channel.channel, failure: .handshakeTimedOut
            ) {
                try await SecureHandshake.initiate(
                    inbound: &frames, outbound: outbound, identity: identity, expectedPeer: expectedPeer,
                    limits: limits)
            }
            var receiver = SecureReceiver(frames: frames, session: session, channel: channel.channel)
            return try await body(session, &receiver)
        }
    }

    package static func configure(_ channel: any Channel, limits: TransportLimits) throws -> FrameChannel {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
        // Same wire format as MessageToByteHandler(FrameEncoder()), without a per-connection copy buffer.
        try channel.pipeline.syncOperations.addHandler(FrameWriter())
        return try FrameChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(
                backPressureStrategy: .init(lowWatermark: max(1, limits.inboundFrameBuffer / 2),
                                            highWatermark: max(1, limits.inboundFrameBuffer)),
                isOutboundHalfClosureEnabled: false,
                inboundType: ByteBuffer.self, outboundType: ByteBuffer.self))
    }
}
