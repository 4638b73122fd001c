import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SecAggCrypto
import SecAggNoise
import SecAggTransport
import Synchronization
import Testing

/// The Noise XX handshake over real loopback TCP: mutual authentication, pinning, enrollment, and every way a
/// peer can break the handshake (garbage, truncation, silence).
@Suite("Secure handshake over loopback", .serialized)
struct HandshakeTests {
    static let fast = TransportLimits(handshakeTimeout: .seconds(10), idleTimeout: .seconds(10))

    // Proves a full handshake authenticates both sides: each learns the other's Ed25519 identity, authorize is
    // asked about exactly the client's key, both derive the same handshake hash, and messages flow both ways.
    @Test("handshake succeeds; peers and handshake hash agree; messages flow both ways")
    func handshakeSucceeds() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let asked = NIOLockedValueBox<[Ed25519.VerifyingKey]>([])
        let (server, client) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: Self.fast,
                authorize: { key in asked.withLockedValue { $0.append(key) }; return nil }
            ) { session, receiver in
                let question = try await receiver.receive()
                try await session.send(Array("pong".utf8))
                return (session.peer, session.handshakeHash, question)
            }
        } client: { port in
            try await SecureTransport.initiate(
                try await Loopback.connect(port), identity: clientKey, expectedPeer: serverKey.verifyingKey,
                limits: Self.fast
            ) { session, receiver in
                try await session.send(Array("ping".utf8))
                let answer = try await receiver.receive()
                return (session.peer, session.handshakeHash, answer)
            }
        }
        let (serverSawPeer, serverHash, question) = try server.get()
        let (clientSawPeer, clientHash, answer) = try client.get()
        #expect(serverSawPeer == clientKey.verifyingKey)
        #expect(clientSawPeer == serverKey.verifyingKey)
        #expect(asked.withLockedValue { $0 } == [clientKey.verifyingKey])
        #expect(serverHash == clientHash)
        #expect(serverHash.count == 64)
        #expect(question == Array("ping".utf8))
        #expect(answer == Array("pong".utf8))
    }

    // Proves two connections between the same parties get different handshake hashes (fresh ephemerals).
    @Test("each connection has its own handshake hash")
    func freshHandshakeHash() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        var hashes: [[UInt8]] = []
        for _ in 0..<2 {
            let (server, _) = try await Loopback.run(serverLimits: Self.fast) { channel in
                try await SecureTransport.serve(channel, identity: serverKey, limits: Self.fast, authorize: { _ in nil }) {
                    session, _ in session.handshakeHash
                }
            } client: { port in
                try await SecureTransport.initiate(
                    try await Loopback.connect(port), identity: clientKey, expectedPeer: serverKey.verifyingKey,
                    limits: Self.fast
                ) { _, receiver in _ = try await receiver.receive() }
            }
            hashes.append(try server.get())
        }
        #expect(hashes[0] != hashes[1])
    }

    // Proves a client pinning a different coordinator key refuses the server with peerRejected before sending
    // its own identity, and the server sees the connection end (connectionClosed) instead of a session.
    @Test("a client pinning the wrong coordinator key fails with peerRejected; the server sees the close")
    func wrongPinnedKey() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let pinned = makeIdentity().verifyingKey
        let authorized = Atomic<Int>(0)
        let (server, client) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: Self.fast,
                authorize: { _ in authorized.add(1, ordering: .relaxed); return nil }
            ) { _, _ in "session" }
        } client: { port in
            try await SecureTransport.initiate(
                try await Loopback.connect(port), identity: clientKey, expectedPeer: pinned, limits: Self.fast
            ) { _, _ in "session" }
        }
        guard case let .peerRejected(reason)? = client.transportError else {
            Issue.record("client: expected peerRejected, got \(client)")
            return
        }
        #expect(reason.contains(serverKey.verifyingKey.description))
        #expect(server.transportError == .connectionClosed)
        let authorizeCalls = authorized.load(ordering: .relaxed)
        #expect(authorizeCalls == 0)
    }

    // Proves a server whose authorize refuses the client fails with peerRejected carrying that reason, never
    // runs the session body, and the client's first receive fails (the connection is closed on it).
    @Test("authorize refusing an identity: server peerRejected, client's receive fails")
    func authorizeRefuses() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let bodyRan = Atomic<Bool>(false)
        let (server, client) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: Self.fast, authorize: { _ in PeerRefusal(reason: "not enrolled") }
            ) { _, _ in bodyRan.store(true, ordering: .relaxed) }
        } client: { port in
            try await SecureTransport.initiate(
                try await Loopback.connect(port), identity: clientKey, expectedPeer: serverKey.verifyingKey,
                limits: Self.fast
            ) { session, receiver in
                try? await session.send(Array("hello".utf8))
                return try await receiver.receive(within: .seconds(5))
            }
        }
        #expect(server.transportError == .peerRejected(reason: "not enrolled"))
        let ran = bodyRan.load(ordering: .relaxed)
        #expect(!ran)
        switch client {
        case let .success(message): #expect(message == nil, "the client must not receive anything")
        case let .failure(error): #expect(error as? TransportError != .idleTimeout, "the close must be seen at once")
        }
    }

    // Proves a refusal with a notice completes the handshake, delivers the notice as the first (encrypted) message
    // even though the client's own first message arrives after the decision, and then closes: the client reads the
    // notice, then the end of the connection. Without the notice path the client would read nothing (test above).
    @Test("authorize refusing with a notice: the client reads the notice, then the close")
    func authorizeRefusesWithNotice() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let notice = Array("you are not enrolled".utf8)
        let (server, client) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: Self.fast,
                authorize: { _ in PeerRefusal(reason: "not enrolled", notice: notice) }
            ) { _, _ in }
        } client: { port in
            try await SecureTransport.initiate(
                try await Loopback.connect(port), identity: clientKey, expectedPeer: serverKey.verifyingKey,
                limits: Self.fast
            ) { session, receiver in
                try? await session.send(Array("hello".utf8))
                let first = try await receiver.receive(within: .seconds(5))
                let next: [UInt8]
                do {
                    next = try await receiver.receive(within: .seconds(5)) ?? []
                } catch {
                    next = Array("error".utf8)
                }
                return [first ?? [], next]
            }
        }
        #expect(server.transportError == .peerRejected(reason: "not enrolled"))
        let messages = try client.get()
        #expect(messages.first == notice)
        #expect(messages.last?.isEmpty == true || messages.last == Array("error".utf8), "nothing after the notice")
    }

    /// Bytes a non-secagg client might send instead of a handshake, framed or not.
    struct Garbage: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [[UInt8]]
        var expected: TransportError
        var testDescription: String { name }
    }

    static let garbage: [Garbage] = [
        Garbage(name: "a 5-byte frame (shorter than an ephemeral key)", bytes: [[0, 5, 1, 2, 3, 4, 5]],
                expected: .handshakeFailed(.truncated)),
        Garbage(name: "an empty frame", bytes: [[0, 0]], expected: .handshakeFailed(.truncated)),
        Garbage(name: "a low-order ephemeral key (all zeros)", bytes: [[0, 32] + [UInt8](repeating: 0, count: 32)],
                expected: .handshakeFailed(.weakKey)),
        Garbage(name: "random message 1, then a random 100-byte message 3",
                bytes: [[0, 32] + patterned(32, seed: 9), [0, 100] + patterned(100, seed: 3)],
                expected: .handshakeFailed(.decryptionFailed)),
        Garbage(name: "a payload in message 1",
                bytes: [[0, 40] + patterned(40, seed: 9)],
                expected: .malformedHandshakePayload(reason: "the first handshake message must have no payload")),
        Garbage(name: "random message 1, then a too-short message 3",
                bytes: [[0, 32] + patterned(32, seed: 5), [0, 20] + patterned(20)],
                expected: .handshakeFailed(.truncated)),
        Garbage(name: "an HTTP request, then EOF", bytes: [Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)],
                expected: .truncatedFrame(bytes: 27)),
    ]

    // Proves the responder turns garbage instead of a handshake into the right typed error at once (far below
    // the handshake timeout) and does not crash.
    @Test("garbage instead of a handshake fails fast with a typed error", arguments: Self.garbage)
    func garbageHandshake(_ garbage: Garbage) async throws {
        let serverKey = makeIdentity()
        let start = ContinuousClock.now
        let (server, _) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: Self.fast, authorize: { _ in nil }) {
                _, _ in "session"
            }
        } client: { port in
            try await raw(port) { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                for (index, chunk) in garbage.bytes.enumerated() {
                    try await outbound.write(ByteBuffer(bytes: chunk))
                    // Wait for the responder's message 2 before sending "message 3".
                    if index == 0, garbage.bytes.count > 1 { _ = try await frames.next() }
                }
                // An HTTP client half-closes after its request; the others keep the connection open.
                if garbage.expected == .truncatedFrame(bytes: 27) { return }
                _ = try? await frames.next()
            }
        }
        #expect(server.transportError == garbage.expected)
        #expect(seconds(since: start) < 8, "must fail at once, not at the 10 s handshake timeout")
    }

    // Proves a handshake that stops in the middle of a frame (half of message 1, or half of message 3, then EOF)
    // fails with truncatedFrame naming the pending bytes, promptly.
    @Test("a truncated handshake fails with truncatedFrame", arguments: [1, 3])
    func truncatedHandshake(message: Int) async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let start = ContinuousClock.now
        let (server, _) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: Self.fast, authorize: { _ in nil }) {
                _, _ in "session"
            }
        } client: { port in
            try await raw(port) { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                var random = SystemRandom()
                var handshake = try NoiseHandshake(
                    pattern: .xx, role: .initiator, prologue: SecureHandshake.prologue,
                    staticKey: clientKey.agreementKey, ephemeralSource: &random)
                var first = try handshake.writeMessage(payload: [])
                if message == 1 {
                    // Header announces 32 bytes; send 16 of them and close.
                    try await outbound.write(ByteBuffer(bytes: [0, 32] + first.prefix(16)))
                    return
                }
                first = [UInt8(first.count >> 8), UInt8(first.count & 0xFF)] + first
                try await outbound.write(ByteBuffer(bytes: first))
                let reply = try #require(try await frames.next())
                _ = try handshake.readMessage(Array(reply.readableBytesView))
                let third = try handshake.writeMessage(payload: clientKey.verifyingKey.rawRepresentation)
                try await outbound.write(ByteBuffer(bytes: [UInt8(third.count >> 8), UInt8(third.count & 0xFF)] + third.prefix(20)))
            }
        }
        #expect(server.transportError == .truncatedFrame(bytes: 2 + (message == 1 ? 16 : 20)))
        #expect(seconds(since: start) < 8, "must fail at once, not at the 10 s handshake timeout")
    }

    // Proves a client that connects and sends nothing is cut off with handshakeTimedOut at the configured limit
    // (not before it, not long after it), and the connection is closed on it.
    @Test("a silent client: handshakeTimedOut within the configured limit")
    func serverHandshakeTimeout() async throws {
        let limits = TransportLimits(handshakeTimeout: .milliseconds(400), idleTimeout: .seconds(30))
        let serverKey = makeIdentity()
        let start = ContinuousClock.now
        let (server, client) = try await Loopback.run(serverLimits: limits) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: limits, authorize: { _ in nil }) {
                _, _ in "session"
            }
        } client: { port in
            try await raw(port) { inbound, _ in
                var frames = inbound.makeAsyncIterator()
                return try await frames.next().map { Array($0.readableBytesView) }
            }
        }
        let elapsed = seconds(since: start)
        #expect(server.transportError == .handshakeTimedOut)
        // The upper bound only tells the configured limit from the 10 s default (sanitizers and load slow things).
        #expect(elapsed >= 0.4 && elapsed < 8, "took \(elapsed) s for a 0.4 s limit")
        // The silent client sees EOF (or a reset), never a frame.
        if case let .success(frame) = client { #expect(frame == nil) }
    }

    // Proves the initiator is bounded too: a server that accepts but never answers makes initiate fail with
    // handshakeTimedOut at the configured limit.
    @Test("a silent server: the client's handshake times out")
    func clientHandshakeTimeout() async throws {
        let limits = TransportLimits(handshakeTimeout: .milliseconds(400), idleTimeout: .seconds(30))
        let clientKey = makeIdentity()
        let (_, client) = try await Loopback.run(serverLimits: limits) { channel in
            try await channel.executeThenClose { inbound, _ in
                var frames = inbound.makeAsyncIterator()
                // Read message 1, answer nothing; wait for the client to give up.
                _ = try await frames.next()
                _ = try? await frames.next()
            }
        } client: { port in
            let start = ContinuousClock.now
            let result = await outcome {
                try await SecureTransport.initiate(
                    try await Loopback.connect(port), identity: clientKey, expectedPeer: makeIdentity().verifyingKey,
                    limits: limits
                ) { _, _ in "session" }
            }
            return (result.transportError, seconds(since: start))
        }
        let (error, elapsed) = try client.get()
        #expect(error == .handshakeTimedOut)
        // The upper bound only tells the configured limit from the 10 s default (sanitizers and load slow things).
        #expect(elapsed >= 0.4 && elapsed < 8, "took \(elapsed) s for a 0.4 s limit")
    }

    // Proves the message-carrying-the-static-key payload must be a valid Ed25519 identity matching the static key:
    // a client whose payload is another party's identity is rejected with peerRejected, one with a 31-byte
    // payload with malformedHandshakePayload.
    @Test("an identity payload that does not match the static key, or is malformed, is refused", arguments: [31, 32])
    func mismatchedIdentityPayload(payloadLength: Int) async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let impersonated = makeIdentity()
        let (server, _) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: Self.fast, authorize: { _ in nil }) {
                _, _ in "session"
            }
        } client: { port in
            try await raw(port) { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                var random = SystemRandom()
                var handshake = try NoiseHandshake(
                    pattern: .xx, role: .initiator, prologue: SecureHandshake.prologue,
                    staticKey: clientKey.agreementKey, ephemeralSource: &random)
                try await outbound.write(ByteBuffer(bytes: framed(try handshake.writeMessage(payload: []))))
                let reply = try #require(try await frames.next())
                _ = try handshake.readMessage(Array(reply.readableBytesView))
                let payload = Array(impersonated.verifyingKey.rawRepresentation.prefix(payloadLength))
                try await outbound.write(ByteBuffer(bytes: framed(try handshake.writeMessage(payload: payload))))
                _ = try? await frames.next()
            }
        }
        switch server.transportError {
        case .peerRejected? where payloadLength == 32: break
        case .malformedHandshakePayload? where payloadLength == 31: break
        default: Issue.record("unexpected server outcome \(server)")
        }
    }

    // SPEC §10: the prologue names the protocol version. A version-1 client (prologue "secagg/1") cannot decrypt a
    // version-2 coordinator's handshake reply and nothing of a round is exchanged; the error a client reports for
    // that failure names the version mismatch.
    @Test("a version-1 peer is refused at the handshake, with an error naming the version")
    func versionOnePeerIsRefused() async throws {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let (server, client) = try await Loopback.run(serverLimits: Self.fast) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: Self.fast, authorize: { _ in nil }) {
                _, _ in "session"
            }
        } client: { port in
            try await raw(port) { inbound, outbound -> NoiseError? in
                var frames = inbound.makeAsyncIterator()
                var random = SystemRandom()
                var handshake = try NoiseHandshake(
                    pattern: .xx, role: .initiator, prologue: Array("secagg/1".utf8),
                    staticKey: clientKey.agreementKey, ephemeralSource: &random)
                try await outbound.write(ByteBuffer(bytes: framed(try handshake.writeMessage(payload: []))))
                let reply = try #require(try await frames.next())
                do {
                    _ = try handshake.readMessage(Array(reply.readableBytesView))
                    return nil
                } catch let error as NoiseError {
                    return error
                }
            }
        }
        #expect(try client.get() == .decryptionFailed)
        #expect(server.transportError != nil, "the coordinator established a session with a version-1 client")
        #expect(SecureHandshake.prologue == Array("secagg/2".utf8))
        let described = "\(TransportError.handshakeFailed(.decryptionFailed))"
        #expect(described.contains("another protocol version") && described.contains("secagg/2"), "\(described)")
    }
}

/// A plain TCP connection that decodes frames but, unless `encodeFrames`, writes raw bytes: `body` sends
/// bytes already framed, or not framed at all.
func raw<T: Sendable>(
    _ port: Int, encodeFrames: Bool = false,
    _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> T
) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                if encodeFrames { try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder())) }
                return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in try await body(inbound, outbound) }
}

/// `body` with its 2-byte big-endian length.
func framed(_ body: [UInt8]) -> [UInt8] {
    [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
}
