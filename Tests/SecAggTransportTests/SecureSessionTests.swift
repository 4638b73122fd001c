import NIOCore
import NIOPosix
import SecAggCrypto
import SecAggNoise
import SecAggTransport
import Testing

/// Application messages over an established session: fragmentation at the Noise message boundary, size limits
/// enforced before allocation, tampering, malformed fragments, timeouts.
@Suite("Secure session over loopback", .serialized)
struct SecureSessionTests {
    static let limits = TransportLimits(handshakeTimeout: .seconds(10), idleTimeout: .seconds(10))

    /// Runs a real server session (`server`) against a real client session (`client`).
    static func session<S, C: Sendable>(
        serverLimits: TransportLimits = limits, clientLimits: TransportLimits = limits,
        server: @escaping (SecureSession, inout SecureReceiver) async throws -> S,
        client: @escaping @Sendable (SecureSession, inout SecureReceiver) async throws -> C
    ) async throws -> (server: Result<S, any Error>, client: Result<C, any Error>) where S: Sendable {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        return try await Loopback.run(serverLimits: serverLimits) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: serverLimits, authorize: { _ in nil }, server)
        } client: { port in
            try await SecureTransport.initiate(
                try await Loopback.connect(port, limits: clientLimits), identity: clientKey,
                expectedPeer: serverKey.verifyingKey, limits: clientLimits, client)
        }
    }

    /// Runs a real server session against a ``RawPeer`` client that completed the handshake by hand.
    static func againstRawPeer<S: Sendable>(
        serverLimits: TransportLimits = limits,
        server: @escaping (SecureSession, inout SecureReceiver) async throws -> S,
        peer: @escaping @Sendable (inout RawPeer) async throws -> Void
    ) async throws -> Result<S, any Error> {
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        let (result, peerResult) = try await Loopback.run(serverLimits: serverLimits) { channel in
            try await SecureTransport.serve(
                channel, identity: serverKey, limits: serverLimits, authorize: { _ in nil }, server)
        } client: { port in
            try await raw(port, encodeFrames: true) { inbound, outbound in
                var rawPeer = try await RawPeer.initiate(inbound: inbound, outbound: outbound, identity: clientKey)
                try await peer(&rawPeer)
            }
        }
        if case let .failure(error) = peerResult { Issue.record("raw peer failed: \(error)") }
        return result
    }

    // Proves messages of every size around the first-fragment boundary (65519 − 4 = 65515 bytes fit in one
    // Noise message), empty and 1-byte messages, and a 1 MiB message arrive intact in both directions.
    @Test("messages of boundary sizes round-trip intact",
          arguments: [0, 1, 65_514, 65_515, 65_516, 65_519, 65_520, 131_034, 131_035, 1 << 20])
    func roundTrip(size: Int) async throws {
        let message = patterned(size, seed: UInt8(truncatingIfNeeded: size))
        let (server, client) = try await Self.session { session, receiver in
            let received = try #require(try await receiver.receive())
            try await session.send(received)
            return received
        } client: { session, receiver in
            try await session.send(message)
            return try await receiver.receive()
        }
        let echoed = try server.get()
        #expect(echoed.count == size)
        #expect(echoed == message)
        #expect(try client.get() == message)
    }

    // Proves the wire layout of SPEC §2.6: u32 BE length ‖ bytes cut into Noise messages of at most 65535
    // bytes (65519 of plaintext), so with the largest fragments 65515 bytes take one frame and 65516 take two, and
    // the first plaintext starts with the length.
    @Test("fragment layout on the wire", arguments: [
        (0, [20]), (1, [21]), (65_515, [65_535]), (65_516, [65_535, 17]), (65_519, [65_535, 20]),
        (131_034, [65_535, 65_535]), (131_035, [65_535, 65_535, 17]),
    ])
    func fragmentLayout(size: Int, frameSizes: [Int]) async throws {
        let message = patterned(size)
        let serverKey = makeIdentity()
        let clientKey = makeIdentity()
        var largest = Self.limits
        largest.fragmentBytes = 65_519
        let (server, client) = try await Loopback.run(serverLimits: largest) { channel in
            try await SecureTransport.serve(channel, identity: serverKey, limits: largest, authorize: { _ in nil }) {
                session, receiver in
                try await session.send(message)
                _ = try await receiver.receive()
            }
        } client: { port in
            try await raw(port, encodeFrames: true) { inbound, outbound in
                var peer = try await RawPeer.initiate(inbound: inbound, outbound: outbound, identity: clientKey)
                var sizes: [Int] = []
                var plaintext: [UInt8] = []
                while plaintext.count < 4 || plaintext.count < 4 + size {
                    let frame = try #require(try await peer.nextFrame())
                    sizes.append(frame.count)
                    plaintext += try peer.transport.decrypt(frame)
                }
                try await peer.sendEncrypted(lengthPrefix(0))
                return (sizes, plaintext)
            }
        }
        _ = try server.get()
        let (sizes, plaintext) = try client.get()
        #expect(sizes == frameSizes)
        #expect(plaintext == lengthPrefix(size) + message)
    }

    // Proves many messages written back to back (without waiting for replies), of mixed sizes, arrive complete
    // and in order.
    @Test("back-to-back messages arrive whole and in order")
    func backToBack() async throws {
        let messages = (0..<60).map { index in patterned([0, 1, 17, 65_515, 65_516, 200_000][index % 6], seed: UInt8(index)) }
        let (server, client) = try await Self.session { _, receiver in
            var received: [[UInt8]] = []
            while let message = try await receiver.receive() { received.append(message) }
            return received
        } client: { session, _ in
            for message in messages { try await session.send(message) }
        }
        _ = try client.get()
        let received = try server.get()
        #expect(received.count == messages.count)
        #expect(received == messages)
    }

    // Proves SecureSession.send is safe from many tasks at once, as documented: every message is delivered and
    // decrypts (no nonce reordering between encryption and the write), each one whole, even messages written in
    // several batches.
    @Test("concurrent sends from many tasks all arrive and decrypt")
    func concurrentSends() async throws {
        let count = 400
        let (server, client) = try await Self.session { _, receiver in
            var received: Set<[UInt8]> = []
            // A generous wait per message: it only stops a hang (ThreadSanitizer on a busy 2-core machine once let
            // 10 s pass between two of these messages).
            while received.count < count, let message = try await receiver.receive(within: .seconds(60)) {
                received.insert(message)
            }
            return received
        } client: { session, receiver in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        // Mostly small messages, some of two fragments, a few written in several batches.
                        let size = index % 100 == 0 ? 1_500_000 : index % 25 == 0 ? 70_000 : 8 + index % 13
                        try await session.send(lengthPrefix(index) + patterned(size, seed: UInt8(index % 256)))
                    }
                }
                try await group.waitForAll()
            }
            _ = try? await receiver.receive(within: .seconds(10))
        }
        _ = try client.get()
        let received = try server.get()
        #expect(received.count == count)
        let indices = Set(received.map { Int($0[0]) << 24 | Int($0[1]) << 16 | Int($0[2]) << 8 | Int($0[3]) })
        #expect(indices == Set(0..<count))
    }

    // Proves a message exactly at maximumMessageBytes is accepted, while a first fragment announcing one byte
    // more (or 4 GiB − 1) fails with messageTooLarge at once, before any further fragment arrives.
    @Test("an announced size over maximumMessageBytes fails before the body arrives",
          arguments: [1_025, 1 << 20, Int(UInt32.max)])
    func announcedTooLarge(announced: Int) async throws {
        let small = TransportLimits(maximumMessageBytes: 1_024, handshakeTimeout: .seconds(10), idleTimeout: .seconds(10))
        let start = ContinuousClock.now
        let result = try await Self.againstRawPeer(serverLimits: small) { _, receiver in
            let exact = try await receiver.receive(within: .seconds(30))
            #expect(exact == patterned(1_024))
            return try await receiver.receive(within: .seconds(30))
        } peer: { peer in
            try await peer.sendEncrypted(lengthPrefix(1_024) + patterned(1_024))
            // Announce more than the limit and send only 10 bytes of it; never send the rest.
            try await peer.sendEncrypted(lengthPrefix(announced) + patterned(10))
            _ = try? await peer.nextFrame()
        }
        #expect(result.transportError == .messageTooLarge(announced: announced, maximum: 1_024))
        #expect(result.transportError?.fault == .peer)
        #expect(seconds(since: start) < 20, "must fail on the first fragment, not wait 30 s for the body")
    }

    // Proves the sender refuses a message over its own maximumMessageBytes with sendTooLarge (a local fault), sends nothing
    // (the session stays usable: the next message arrives and decrypts).
    @Test("sending over maximumMessageBytes fails locally and leaves the session usable")
    func sendTooLarge() async throws {
        let small = TransportLimits(maximumMessageBytes: 100, handshakeTimeout: .seconds(10), idleTimeout: .seconds(10))
        let (server, client) = try await Self.session(clientLimits: small) { _, receiver in
            try await receiver.receive(within: .seconds(5))
        } client: { session, _ in
            let refused = await outcome { try await session.send(patterned(101)) }
            try await session.send(patterned(100))
            return refused.transportError
        }
        #expect(try client.get() == .sendTooLarge(bytes: 101, maximum: 100))
        #expect(try client.get()?.fault == .local)
        #expect(try server.get() == patterned(100))
    }

    // A send from a cancelled task fails before it encrypts anything, so no nonce is lost and the next message,
    // sent from a task that is not cancelled, still decrypts at the peer (a stopped client's ClientAbort relies on it).
    @Test("a send from a cancelled task uses no nonce and leaves the session usable")
    func cancelledSend() async throws {
        let (server, client) = try await Self.session { _, receiver in
            try await receiver.receive(within: .seconds(5))
        } client: { session, _ in
            let cancelled = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await session.send(patterned(50))
            }
            let refused = await cancelled.result
            try await session.send(patterned(60))
            if case .failure(let error) = refused { return error is CancellationError }
            return false
        }
        #expect(try client.get(), "the cancelled send must throw CancellationError")
        #expect(try server.get() == patterned(60))
    }

    // Proves a tampered frame fails with decryptionFailed, and the session is dead afterwards: even the
    // untampered original, which would otherwise decrypt, fails (transportFailed).
    @Test("a tampered frame fails decryption, and every later receive fails")
    func tamperedFrame() async throws {
        let result = try await Self.againstRawPeer { _, receiver in
            let first = await outcome { try await receiver.receive(within: .seconds(5)) }
            let second = await outcome { try await receiver.receive(within: .seconds(5)) }
            return [first.transportError, second.transportError]
        } peer: { peer in
            let original = try peer.seal(lengthPrefix(5) + patterned(5))
            var tampered = original
            tampered[3] ^= 0x01
            try await peer.sendFrame(tampered)
            try await peer.sendFrame(original)
            _ = try? await peer.nextFrame()
        }
        let errors = try result.get()
        #expect(errors[0] == .decryptionFailed(.decryptionFailed))
        // The receiver repeats its failure (and the Noise transport refuses any later frame): the original is
        // not delivered.
        let acceptable: [TransportError] = [.decryptionFailed(.decryptionFailed), .decryptionFailed(.transportFailed)]
        #expect(errors[1].map(acceptable.contains) == true)
    }

    /// A sequence of transport messages that breaks reassembly, with the error it must cause.
    struct BadFragments: Sendable, CustomTestStringConvertible {
        var name: String
        var plaintexts: [[UInt8]]
        var closeAfter: Bool = false
        var expected: TransportError
        var testDescription: String { name }
    }

    static let badFragments: [BadFragments] = [
        BadFragments(name: "first fragment of 3 bytes", plaintexts: [[0, 0, 1]],
                     expected: .malformedMessage(reason: "first fragment shorter than its length field")),
        BadFragments(name: "first fragment longer than announced", plaintexts: [lengthPrefix(2) + [1, 2, 3]],
                     expected: .malformedMessage(reason: "fragment longer than the announced message")),
        BadFragments(name: "empty continuation fragment", plaintexts: [lengthPrefix(10) + [1], []],
                     expected: .malformedMessage(reason: "fragments do not add up to the announced length")),
        BadFragments(name: "continuation past the announced length", plaintexts: [lengthPrefix(10) + [1], patterned(10)],
                     expected: .malformedMessage(reason: "fragments do not add up to the announced length")),
        BadFragments(name: "EOF in the middle of a message", plaintexts: [lengthPrefix(100_000) + patterned(65_515)],
                     closeAfter: true, expected: .connectionClosed),
    ]

    // Proves each way of breaking the fragment structure gives its typed error, and the receiver stays failed:
    // a valid message sent afterwards is not taken as a fresh message.
    @Test("malformed fragments give typed errors, and the receiver stays failed", arguments: Self.badFragments)
    func malformedFragments(_ bad: BadFragments) async throws {
        let result = try await Self.againstRawPeer { _, receiver in
            let first = await outcome { try await receiver.receive(within: .seconds(5)) }
            let second = await outcome { try await receiver.receive(within: .seconds(5)) }
            return (first, second)
        } peer: { peer in
            for plaintext in bad.plaintexts { try await peer.sendEncrypted(plaintext) }
            if bad.closeAfter { return }
            // A well-formed message after the broken one must not be delivered. (The server may already have closed
            // the connection after the broken one: then this send fails, which is as good.)
            try? await peer.sendEncrypted(lengthPrefix(3) + [7, 7, 7])
            _ = try? await peer.nextFrame()
        }
        let (first, second) = try result.get()
        #expect(first.transportError == bad.expected)
        #expect(second.failed, "a receive after \(bad.expected) must fail, got \(second)")
    }

    // Proves raw bytes that are not a transport message (shorter than a tag, or random) fail decryption with
    // the Noise cause.
    @Test("a non-ciphertext frame fails decryption", arguments: [0, 5, 15, 16, 100])
    func garbageAfterHandshake(length: Int) async throws {
        let result = try await Self.againstRawPeer { _, receiver in
            try await receiver.receive(within: .seconds(5))
        } peer: { peer in
            try await peer.sendFrame(patterned(length, seed: 1))
            _ = try? await peer.nextFrame()
        }
        let expected: NoiseError = length < 16 ? .truncated : .decryptionFailed
        #expect(result.transportError == .decryptionFailed(expected))
    }

    // Proves receive(within:) fails with idleTimeout at the limit when nothing arrives, closes the connection
    // (the peer sees it end), and a later receive fails too.
    @Test("receive(within:) fails with idleTimeout and closes the connection")
    func idleTimeout() async throws {
        let (server, client) = try await Self.session { _, receiver in
            let start = ContinuousClock.now
            let first = await outcome { try await receiver.receive(within: .milliseconds(300)) }
            let elapsed = seconds(since: start)
            let again = await outcome { try await receiver.receive(within: .seconds(2)) }
            return (first.transportError, elapsed, again)
        } client: { _, receiver in
            // Sends nothing; waits to be cut off.
            try await receiver.receive(within: .seconds(5))
        }
        let (error, elapsed, again) = try server.get()
        #expect(error == .idleTimeout)
        #expect(elapsed >= 0.3 && elapsed < 4.5, "took \(elapsed) s for a 0.3 s limit (the peer gives up at 5 s)")
        switch again {
        case let .success(message): #expect(message == nil)
        case .failure: break
        }
        switch client {
        case let .success(message): #expect(message == nil, "the client must see the connection end")
        case let .failure(error): #expect(error as? TransportError != .idleTimeout, "the close must reach the client")
        }
    }

    // Proves receive(within:) returns a message that arrives before the limit, even one split in fragments.
    @Test("receive(within:) returns a message that arrives in time")
    func receiveWithinInTime() async throws {
        let message = patterned(200_000)
        let (server, _) = try await Self.session { _, receiver in
            try await receiver.receive(within: .seconds(5))
        } client: { session, receiver in
            try await Task.sleep(for: .milliseconds(100))
            try await session.send(message)
            _ = try? await receiver.receive(within: .seconds(5))
        }
        #expect(try server.get() == message)
    }

    // Proves a clean close between messages ends receive with nil (not an error).
    @Test("a clean close between messages ends receive with nil")
    func cleanClose() async throws {
        let (server, _) = try await Self.session { _, receiver in
            let first = try await receiver.receive(within: .seconds(5))
            let end = try await receiver.receive(within: .seconds(5))
            return (first, end)
        } client: { session, _ in
            try await session.send([1, 2, 3])
        }
        let (first, end) = try server.get()
        #expect(first == [1, 2, 3])
        #expect(end == nil)
    }
}
