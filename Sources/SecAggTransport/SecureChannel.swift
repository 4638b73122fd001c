import NIOConcurrencyHelpers
import NIOCore
import SecAggCrypto
import SecAggNoise
import Synchronization

/// Bounds that keep one connection from consuming unbounded memory or time (SPEC §2.6).
public struct TransportLimits: Sendable, Hashable {
    /// Largest application message accepted; larger announcements are refused before any allocation.
    public var maximumMessageBytes: Int
    /// Time allowed for the whole Noise handshake.
    public var handshakeTimeout: Duration
    /// Longest wait for the next message where the protocol expects one.
    public var idleTimeout: Duration
    /// Frames NIO buffers per connection before it stops reading from the socket (backpressure).
    public var inboundFrameBuffer: Int

    /// Plaintext bytes per fragment this side sends (at most 65,519, the largest Noise plaintext). Small fragments
    /// keep what a receiver with many connections buffers per connection small; the receiver accepts any size.
    public var fragmentBytes: Int

    /// Time a message whose size was reserved from a budget may take to arrive, on top of its size at
    /// ``minimumReceiveRate`` (slow-sender protection: a reservation is held only while bytes keep coming).
    public var receiveGrace: Duration
    /// Slowest rate, in bytes per second, at which a reserved message's body must arrive after the grace.
    public var minimumReceiveRate: Int

    public init(
        maximumMessageBytes: Int = 64 << 20, handshakeTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(300), inboundFrameBuffer: Int = 1, fragmentBytes: Int = 16 * 1024,
        receiveGrace: Duration = .seconds(10), minimumReceiveRate: Int = 16 * 1024
    ) {
        self.maximumMessageBytes = maximumMessageBytes
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.inboundFrameBuffer = inboundFrameBuffer
        self.fragmentBytes = min(max(fragmentBytes, 16), NoiseTransport.maxPlaintextLength)
        self.receiveGrace = receiveGrace
        self.minimumReceiveRate = max(1, minimumReceiveRate)
    }

    /// How long the body of a reserved message of `bytes` bytes may take: the grace plus its size at the minimum
    /// rate (10 s + 25 s for a 400 KB masked vector with the defaults).
    public func bodyDeadline(forBytes bytes: Int) -> Duration {
        receiveGrace + .milliseconds(Int64(max(0, bytes)) * 1000 / Int64(max(1, minimumReceiveRate)))
    }
}

/// A received application message, with the budget its size is reserved from until the caller has processed it.
public struct ReceivedMessage: Sendable {
    public let bytes: [UInt8]
    /// Where `bytes.count` bytes are reserved (nil: nothing was reserved).
    public let budget: ByteBudget?

    /// Returns the message's reservation to its budget; call once, when the message has been processed.
    public func release() async {
        await budget?.release(bytes.count)
    }
}

/// What a receiver accepts as its next message, decided when the message's first fragment arrives.
public struct ReceiveAllowance: Sendable {
    /// Largest message accepted now (at most the session's ``TransportLimits/maximumMessageBytes``); a larger
    /// announcement is refused with ``TransportError/messageTooLarge(announced:maximum:)`` before anything is
    /// reserved or read.
    public var maximumBytes: Int
    /// The budget the message's announced size is reserved from before its body is read (nil: none).
    public var budget: ByteBudget?

    public init(maximumBytes: Int, budget: ByteBudget? = nil) {
        self.maximumBytes = maximumBytes
        self.budget = budget
    }

    /// Nothing may be sent (a client waiting in a queue): any announcement, even of an empty message, is refused
    /// with ``TransportError/unexpectedMessage(announced:)``.
    public static let nothing = ReceiveAllowance(maximumBytes: -1)
}

/// Why a responder refuses a peer that completed the handshake, and what it tells the peer.
public struct PeerRefusal: Sendable, Hashable {
    /// Why, for the responder's log and ``TransportError/peerRejected(reason:)``.
    public var reason: String
    /// An application message for the peer, sent encrypted before the connection closes (nil: close silently).
    public var notice: [UInt8]?

    public init(reason: String, notice: [UInt8]? = nil) {
        self.reason = reason
        self.notice = notice
    }
}

/// The channel type the transport runs on: whole frames in and out.
public typealias FrameChannel = NIOAsyncChannel<ByteBuffer, ByteBuffer>

/// The Noise handshake of secagg (SPEC §2.6): `Noise_XX_25519_ChaChaPoly_BLAKE2b`, prologue
/// `"secagg/2"` (the protocol version, SPEC §10), each party's static key derived from its Ed25519 identity, and each party's 32-byte Ed25519
/// identity key as the payload of the message that carries its static key (message 1 for the responder, 2 for
/// the initiator). A party accepts the peer only if the payload key maps to the static key the handshake
/// authenticated, and its policy (the pinned coordinator key, or the enrolled clients) accepts that identity.
public enum SecureHandshake {
    /// Bytes mixed into the handshake hash by both parties.
    public static let prologue = Array("secagg/2".utf8)

    /// Runs the initiator's side over `inbound`/`outbound` and returns the established session.
    ///
    /// - Throws: ``TransportError`` (handshake failure, a responder that is not `expectedPeer`, a closed
    ///   connection), or NIO's error if a write fails.
    public static func initiate(
        inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        identity: Ed25519.SigningKey, expectedPeer: Ed25519.VerifyingKey, limits: TransportLimits
    ) async throws -> SecureSession {
        var random = SystemRandom()
        do {
            var handshake = try NoiseHandshake(
                pattern: .xx, role: .initiator, prologue: prologue, staticKey: identity.agreementKey,
                ephemeralSource: &random)
            try await outbound.write(ByteBuffer(bytes: try handshake.writeMessage(payload: [])))
            let payload = try handshake.readMessage(try await nextFrame(&inbound))
            let peer = try identityPayload(payload, authenticatedStatic: handshake.remoteStaticKey)
            guard peer == expectedPeer else {
                throw TransportError.peerRejected(reason: "coordinator key \(peer) is not the pinned key \(expectedPeer)")
            }
            let last = try handshake.writeMessage(payload: identity.verifyingKey.rawRepresentation)
            let transport = try handshake.split()
            try await outbound.write(ByteBuffer(bytes: last))
            return SecureSession(peer: peer, transport: transport, outbound: outbound, limits: limits)
        } catch let error as NoiseError {
            throw TransportError.handshakeFailed(error)
        }
    }

    /// Runs the responder's side; `authorize` returns nil to accept the authenticated identity, or a refusal.
    ///
    /// A refusal with a ``PeerRefusal/notice`` completes the handshake, sends the notice as the first transport
    /// message (so the peer learns why, SPEC §4.9), and waits for the peer's first message or its close before
    /// throwing: closing with that message unread would reset the connection and could destroy the notice before
    /// the peer reads it. The handshake's time limit bounds the wait.
    ///
    /// - Throws: ``TransportError`` (handshake failure, an identity `authorize` refuses, a closed connection),
    ///   or NIO's error if a write fails.
    public static func respond(
        inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        identity: Ed25519.SigningKey, limits: TransportLimits,
        authorize: @Sendable (Ed25519.VerifyingKey) -> PeerRefusal?
    ) async throws -> SecureSession {
        var random = SystemRandom()
        do {
            var handshake = try NoiseHandshake(
                pattern: .xx, role: .responder, prologue: prologue, staticKey: identity.agreementKey,
                ephemeralSource: &random)
            // Message 0 carries no payload (SPEC §2.6.2); anything else is not a secagg client.
            guard try handshake.readMessage(try await nextFrame(&inbound)).isEmpty else {
                throw TransportError.malformedHandshakePayload(reason: "the first handshake message must have no payload")
            }
            let reply = try handshake.writeMessage(payload: identity.verifyingKey.rawRepresentation)
            try await outbound.write(ByteBuffer(bytes: reply))
            let payload = try handshake.readMessage(try await nextFrame(&inbound))
            let peer = try identityPayload(payload, authenticatedStatic: handshake.remoteStaticKey)
            if let refusal = authorize(peer) {
                if let notice = refusal.notice {
                    let session = SecureSession(peer: peer, transport: try handshake.split(), outbound: outbound, limits: limits)
                    try? await session.send(notice)
                    _ = try? await inbound.next()
                }
                throw TransportError.peerRejected(reason: refusal.reason)
            }
            let transport = try handshake.split()
            return SecureSession(peer: peer, transport: transport, outbound: outbound, limits: limits)
        } catch let error as NoiseError {
            throw TransportError.handshakeFailed(error)
        }
    }

    /// Checks that the payload is an Ed25519 key whose X25519 form is the static key the handshake authenticated.
    private static func identityPayload(
        _ payload: [UInt8], authenticatedStatic: X25519.PublicKey?
    ) throws -> Ed25519.VerifyingKey {
        guard payload.count == Ed25519.publicKeyByteCount,
              let key = try? Ed25519.VerifyingKey(rawRepresentation: payload), key.isPrimeOrderPoint else {
            throw TransportError.malformedHandshakePayload(reason: "expected a valid 32-byte Ed25519 identity key")
        }
        guard let derived = try? key.agreementKey(), let authenticatedStatic, derived == authenticatedStatic else {
            throw TransportError.peerRejected(reason: "identity key \(key) does not match the handshake's static key")
        }
        return key
    }

    private static func nextFrame(
        _ inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    ) async throws -> [UInt8] {
        guard var frame = try await inbound.next() else { throw TransportError.connectionClosed }
        return frame.readBytes(length: frame.readableBytes) ?? []
    }
}

/// An established secure session: the authenticated peer, and encryption in both directions.
///
/// Sending is safe from any task (the session is `Sendable`): concurrent ``send(_:)`` calls are serialised
/// first-come first-served, each encrypting and writing its fragments before the next starts, so frames reach
/// the socket in nonce order. Receiving goes through a ``SecureReceiver`` owned by one task.
public final class SecureSession: Sendable {
    /// The peer's authenticated Ed25519 identity.
    public let peer: Ed25519.VerifyingKey
    /// The Noise handshake hash, unique to this connection.
    public let handshakeHash: [UInt8]
    public let limits: TransportLimits
    private let cipher: LockedCipher
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Held from encryption until the frames are handed to the channel: a message encrypted under nonce n must
    /// be written before the one encrypted under n + 1, or the peer's decryption fails.
    private let sending = SendGate()
    /// Set when a send failed after encrypting (its frames may not have left): the peer's next expected nonce is
    /// unknown, so nothing more can be sent in order.
    private let interrupted = Atomic<Bool>(false)

    init(peer: Ed25519.VerifyingKey, transport: consuming NoiseTransport,
         outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, limits: TransportLimits) {
        self.peer = peer
        handshakeHash = transport.handshakeHash
        self.limits = limits
        self.outbound = outbound
        cipher = LockedCipher(transport)
    }

    /// Fragments encrypted before they are handed to the channel together. One: each fragment is encrypted only
    /// when the channel is writable again, so a peer that reads slowly costs the sender at most about one
    /// fragment (64 KiB) of buffered ciphertext beyond the socket's own buffer, however large the message.
    static let framesPerWrite = 1

    /// Sends one application message: `u32 length ‖ bytes`, cut into Noise transport messages of at most 65,535
    /// bytes each (SPEC §2.6). Concurrent sends are serialised, so one message's fragments are never interleaved
    /// with another's.
    ///
    /// - Throws: ``TransportError/sendTooLarge(bytes:maximum:)`` if the message exceeds this side's limit (nothing
    ///   is sent; the session stays usable); ``TransportError/encryptionFailed(_:)`` if the session cannot encrypt;
    ///   `CancellationError` if the calling task is cancelled before anything is encrypted (the session stays
    ///   usable); ``TransportError/sendInterrupted`` once an earlier send failed after encrypting; NIO errors (or
    ///   `CancellationError`) if the channel refuses the frames, after which the session is interrupted.
    public func send(_ message: [UInt8]) async throws {
        // The length field is 32 bits wide, whatever the configured limit.
        let maximum = min(limits.maximumMessageBytes, Int(UInt32.max))
        guard message.count <= maximum else {
            throw TransportError.sendTooLarge(bytes: message.count, maximum: maximum)
        }
        await sending.acquire()
        defer { sending.release() }
        // A cancelled caller stops here, before a nonce is used, so the session stays usable (a client that is
        // stopped can still send its ClientAbort from a task that is not cancelled).
        try Task.checkCancellation()
        guard !interrupted.load(ordering: .acquiring) else { throw TransportError.sendInterrupted }
        let length = UInt32(message.count)
        var plaintext = [UInt8]()
        let fragment = min(max(limits.fragmentBytes, 16), NoiseTransport.maxPlaintextLength)
        plaintext.reserveCapacity(min(fragment, 4 + message.count))
        plaintext += [UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                      UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        var batch: [ByteBuffer] = []
        var offset = 0
        repeat {
            let take = min(fragment - plaintext.count, message.count - offset)
            plaintext += message[offset..<offset + take]
            offset += take
            batch.append(ByteBuffer(bytes: try seal(plaintext)))
            plaintext.removeAll(keepingCapacity: true)
            if batch.count == Self.framesPerWrite, offset < message.count {
                try await write(batch)
                batch.removeAll(keepingCapacity: true)
            }
        } while offset < message.count
        try await write(batch)
    }

    /// Hands encrypted frames to the channel; if that fails (cancelled, or the channel closed) the session is
    /// marked interrupted.
    private func write(_ frames: [ByteBuffer]) async throws {
        do {
            try await outbound.write(contentsOf: frames)
        } catch {
            interrupted.store(true, ordering: .releasing)
            throw error
        }
    }

    /// Encrypts one fragment under the next nonce (callers hold the send gate, so fragments leave in nonce order).
    private func seal(_ plaintext: [UInt8]) throws(TransportError) -> [UInt8] {
        try cipher.withLock { transport throws(TransportError) -> [UInt8] in
            do throws(NoiseError) {
                return try transport.encrypt(plaintext)
            } catch {
                throw .encryptionFailed(error)
            }
        }
    }

    /// The encrypted first fragment of a message that announces `announced` bytes but carries only `bytes`: what a
    /// sender that stalls after its announcement puts on the wire. For this package's load tools and tests only
    /// (it consumes a nonce, so the session can send nothing else in order afterwards).
    package func sealedAnnouncement(of announced: Int, carrying bytes: [UInt8]) throws(TransportError) -> [UInt8] {
        let length = UInt32(truncatingIfNeeded: announced)
        let header = [UInt8(truncatingIfNeeded: length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                      UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        return try seal(header + bytes)
    }

    /// Decrypts one frame (called by ``SecureReceiver``).
    fileprivate func open(_ frame: [UInt8]) throws(TransportError) -> [UInt8] {
        try cipher.withLock { transport throws(TransportError) -> [UInt8] in
            do throws(NoiseError) {
                return try transport.decrypt(frame)
            } catch {
                throw .decryptionFailed(error)
            }
        }
    }
}

/// Reads whole application messages from a session; owned by one task.
///
/// A failed receive (undecryptable frame, oversized announcement, malformed fragments, timeout, a close inside a
/// message) leaves the stream at an unknown position, so it ends the connection: the channel is closed and every
/// later receive throws the same error.
public struct SecureReceiver {
    private var frames: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let session: SecureSession
    private let channel: any Channel
    private var failure: (any Error)?

    /// Wraps the frame iterator that the handshake used; `channel` is closed when a receive fails or times out.
    public init(
        frames: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, session: SecureSession, channel: any Channel
    ) {
        self.frames = frames
        self.session = session
        self.channel = channel
    }

    /// The next application message, or nil when the peer closed the connection cleanly between messages.
    ///
    /// - Throws: ``TransportError`` for an undecryptable frame, an announced size over the limit (checked before
    ///   allocating), a malformed message, or a close in the middle of a message.
    public mutating func receive() async throws -> [UInt8]? {
        if let failure { throw failure }
        do {
            return try await readMessage()?.bytes
        } catch {
            fail(error)
            throw error
        }
    }

    /// Like ``receive()``, but closes the connection and fails with ``TransportError/idleTimeout`` if no whole
    /// message arrives within `timeout`.
    ///
    /// With a `budget`, the announced size is reserved from it before the body is read (waiting while it is
    /// exhausted); the caller must release `message.count` bytes once it has processed the message.
    public mutating func receive(within timeout: Duration, budget: ByteBudget? = nil) async throws -> [UInt8]? {
        try await receive(within: timeout) { ReceiveAllowance(maximumBytes: .max, budget: budget) }?.bytes
    }

    /// Like ``receive()``, with what the next message may be decided when its first fragment arrives: `allowance`
    /// is asked then (so a receiver whose state changes between messages, such as a client moving from a queue to
    /// a round's phases, refuses what the current state does not allow), and an announced size over its
    /// `maximumBytes` (or the session's limit) is refused before anything is reserved or read.
    ///
    /// With a budget in the allowance, the announced size is reserved from it once the size is known (waiting while
    /// it is exhausted), and from the moment it is granted the rest of the message must arrive within
    /// ``TransportLimits/bodyDeadline(forBytes:)``: a peer that announces a message and stalls holds its reservation
    /// for that long at most. The caller releases `message.count` bytes once it has processed the message.
    ///
    /// - Throws: ``TransportError/messageTooLarge(announced:maximum:)`` for an announcement over the allowance,
    ///   ``TransportError/messageTooSlow(received:announced:)`` when a reserved message does not arrive in time,
    ///   ``TransportError/idleTimeout`` when no whole message arrives within `timeout`, and the errors of
    ///   ``receive()``. Every failure closes the connection.
    public mutating func receive(
        within timeout: Duration, allowance: @Sendable () -> ReceiveAllowance
    ) async throws -> ReceivedMessage? {
        if let failure { throw failure }
        do {
            return try await withWatchdog(timeout, closing: channel, failure: .idleTimeout) {
                try await readMessage(allowance: allowance)
            }
        } catch {
            fail(error)
            throw error
        }
    }

    /// Records the first failure and closes the connection.
    private mutating func fail(_ error: any Error) {
        if failure == nil { failure = error }
        channel.close(promise: nil)
    }

    private mutating func readMessage(
        allowance: @Sendable () -> ReceiveAllowance = { ReceiveAllowance(maximumBytes: .max) }
    ) async throws -> ReceivedMessage? {
        guard let first = try await nextFrame() else { return nil }
        let allowed = allowance()
        let opened = try session.open(first)
        guard allowed.maximumBytes >= 0 else {
            let announced = try MessageAssembler.announcedLength(of: opened, maximumMessageBytes: .max)
            throw TransportError.unexpectedMessage(announced: announced)
        }
        let maximum = min(session.limits.maximumMessageBytes, allowed.maximumBytes)
        guard let budget = allowed.budget else {
            var assembly = try MessageAssembler(firstFragment: opened, maximumMessageBytes: maximum)
            try await receiveBody(&assembly)
            return ReceivedMessage(bytes: assembly.message, budget: nil)
        }
        // Reserve before allocating: while the budget is used up, a waiting message holds only its first fragment.
        let announced = try MessageAssembler.announcedLength(of: opened, maximumMessageBytes: maximum)
        await budget.reserve(announced)
        var received = 0
        do {
            var assembly = try MessageAssembler(firstFragment: opened, maximumMessageBytes: maximum)
            try await withWatchdog(
                session.limits.bodyDeadline(forBytes: announced), closing: channel,
                failure: .messageTooSlow(received: 0, announced: announced)
            ) {
                defer { received = assembly.message.count }
                try await receiveBody(&assembly)
            }
            return ReceivedMessage(bytes: assembly.message, budget: budget)
        } catch {
            // The message never reaches the caller, so its reservation is returned here.
            await budget.release(announced)
            if case .messageTooSlow = error as? TransportError {
                throw TransportError.messageTooSlow(received: received, announced: announced)
            }
            throw error
        }
    }

    private mutating func receiveBody(_ assembly: inout MessageAssembler) async throws {
        while !assembly.isComplete {
            guard let next = try await nextFrame() else { throw TransportError.connectionClosed }
            try assembly.append(try session.open(next))
        }
    }

    private mutating func nextFrame() async throws -> [UInt8]? {
        guard var frame = try await frames.next() else { return nil }
        return frame.readBytes(length: frame.readableBytes) ?? []
    }
}

/// A first-come first-served lock that suspends instead of blocking, so a send can hold it across the write.
private final class SendGate: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var next = 0
    }

    // A lock ThreadSanitizer sees (Synchronization.Mutex's contended path is invisible to it on Linux).
    private let state = NIOLockedValueBox(State())

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let successor: CheckedContinuation<Void, Never>? = state.withLockedValue { state in
            guard state.next < state.waiters.count else {
                state.held = false
                state.waiters.removeAll(keepingCapacity: true)
                state.next = 0
                return nil
            }
            let successor = state.waiters[state.next]
            state.next += 1
            // Drop the resumed prefix now and then, so a gate that is never idle does not grow without bound.
            if state.next >= 64, state.next * 2 >= state.waiters.count {
                state.waiters.removeFirst(state.next)
                state.next = 0
            }
            return successor
        }
        successor?.resume()
    }
}

/// A session's Noise cipher states behind NIO's pthread lock. `Synchronization.Mutex` would do, but its contended
/// path runs in the uninstrumented Synchronization library, so ThreadSanitizer saw no ordering between holders and
/// reported races inside the lock; a pthread mutex it sees. (The state is `~Copyable`, so it lives in a class.)
private final class LockedCipher: @unchecked Sendable {
    private let lock = NIOLock()
    private var transport: NoiseTransport

    init(_ transport: consuming NoiseTransport) {
        self.transport = transport
    }

    func withLock<Result, Failure: Error>(_ body: (inout NoiseTransport) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&transport)
    }
}
