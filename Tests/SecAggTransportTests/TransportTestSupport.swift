import NIOCore
import NIOPosix
import SecAggCrypto
import SecAggNoise
import SecAggTransport
import Testing

/// A fresh Ed25519 identity from libsodium's CSPRNG.
func makeIdentity() -> Ed25519.SigningKey {
    var random = SystemRandom()
    return Ed25519.SigningKey(using: &random)
}

/// Bytes that differ at every offset (so a reordered or truncated copy is caught).
func patterned(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ ($0 >> 8) &+ Int(seed)) }
}

/// Runs `body`, capturing its error instead of throwing it.
func outcome<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

extension Result {
    /// The error as a ``TransportError``, or nil for success or another error.
    var transportError: TransportError? {
        if case let .failure(error) = self { return error as? TransportError }
        return nil
    }

    var failed: Bool {
        if case .failure = self { return true }
        return false
    }
}

/// Seconds elapsed since `start`.
func seconds(since start: ContinuousClock.Instant) -> Double {
    let (whole, attoseconds) = (ContinuousClock.now - start).components
    return Double(whole) + Double(attoseconds) * 1e-18
}

/// One listener on 127.0.0.1 with an ephemeral port, one accepted connection.
enum Loopback {
    /// Listens with `serverLimits`, starts `client` in its own task with the bound port, hands the first accepted
    /// connection to `server` (in the calling task), and returns both outcomes.
    static func run<ServerResult: Sendable, ClientResult: Sendable>(
        serverLimits: TransportLimits = TransportLimits(),
        server: (FrameChannel) async throws -> ServerResult,
        client: @escaping @Sendable (Int) async throws -> ClientResult
    ) async throws -> (server: Result<ServerResult, any Error>, client: Result<ClientResult, any Error>) {
        let listener = try await SecureTransport.listen(host: "127.0.0.1", port: 0, limits: serverLimits)
        let port = try #require(listener.channel.localAddress?.port)
        let clientTask = Task { await outcome { try await client(port) } }
        let serverResult: Result<ServerResult, any Error> = try await listener.executeThenClose { inbound in
            var connections = inbound.makeAsyncIterator()
            guard let connection = try await connections.next() else {
                return .failure(TransportError.connectionClosed)
            }
            return await outcome { try await server(connection) }
        }
        return (serverResult, await clientTask.value)
    }

    /// Connects to the loopback listener.
    static func connect(_ port: Int, limits: TransportLimits = TransportLimits()) async throws -> FrameChannel {
        try await SecureTransport.connect(host: "127.0.0.1", port: port, limits: limits)
    }
}

/// A hand-driven peer: it completes the Noise handshake with ``SecAggNoise`` directly (bypassing
/// ``SecureSession``) and then writes any frame it likes, encrypted or not, to attack the other side's
/// reassembly and decryption.
struct RawPeer: ~Copyable {
    var frames: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var transport: NoiseTransport

    /// Runs the initiator's side of secagg's handshake (same prologue and identity payload as
    /// ``SecureHandshake``), without pinning the responder.
    static func initiate(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        identity: Ed25519.SigningKey
    ) async throws -> RawPeer {
        var frames = inbound.makeAsyncIterator()
        var random = SystemRandom()
        var handshake = try NoiseHandshake(
            pattern: .xx, role: .initiator, prologue: SecureHandshake.prologue, staticKey: identity.agreementKey,
            ephemeralSource: &random)
        try await outbound.write(ByteBuffer(bytes: try handshake.writeMessage(payload: [])))
        let reply = try #require(try await frames.next())
        _ = try handshake.readMessage(Array(reply.readableBytesView))
        try await outbound.write(ByteBuffer(bytes: try handshake.writeMessage(payload: identity.verifyingKey.rawRepresentation)))
        return RawPeer(frames: frames, outbound: outbound, transport: try handshake.split())
    }

    /// Writes `bytes` as one frame, as is.
    func sendFrame(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Encrypts `plaintext` as the next transport message and returns the ciphertext without sending it.
    mutating func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        try transport.encrypt(plaintext)
    }

    /// Encrypts `plaintext` as one transport message and sends it as one frame.
    mutating func sendEncrypted(_ plaintext: [UInt8]) async throws {
        try await sendFrame(try seal(plaintext))
    }

    /// The next frame as received (nil at EOF).
    mutating func nextFrame() async throws -> [UInt8]? {
        guard let frame = try await frames.next() else { return nil }
        return Array(frame.readableBytesView)
    }
}

/// The 4-byte big-endian length that opens an application message.
func lengthPrefix(_ count: Int) -> [UInt8] {
    let value = UInt32(count)
    return [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}
