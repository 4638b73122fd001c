import SecAggCrypto
import Testing

import SecAggNoise

/// How a connection driver holds the non-copyable handshake and transport: optionals in an actor, the
/// handshake moved out with `take()` when it is split. (Only the public API is used here.)
private actor Endpoint {
    private var handshake: NoiseHandshake?
    private var transport: NoiseTransport?

    init(pattern: NoisePattern, role: NoiseRole, staticKey: X25519.PrivateKey?) throws(NoiseError) {
        var random = SystemRandom()
        handshake = try NoiseHandshake(
            pattern: pattern, role: role, prologue: Array("secagg/1".utf8), staticKey: staticKey,
            ephemeralSource: &random)
    }

    var isEstablished: Bool { transport != nil }

    var handshakeHash: [UInt8]? { transport?.handshakeHash }

    /// The next outgoing handshake message, or `nil` if it is the peer's turn or the handshake is over.
    func nextHandshakeMessage() throws(NoiseError) -> [UInt8]? {
        guard handshake?.isMyTurnToWrite == true else { return nil }
        let message = try handshake!.writeMessage(payload: [])
        try splitIfComplete()
        return message
    }

    func receiveHandshakeMessage(_ message: [UInt8]) throws(NoiseError) {
        guard handshake != nil else { throw .outOfOrder }
        _ = try handshake!.readMessage(message)
        try splitIfComplete()
    }

    private func splitIfComplete() throws(NoiseError) {
        guard handshake?.isComplete == true, let finished = handshake.take() else { return }
        transport = try finished.split()
    }

    func seal(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard transport != nil else { throw .outOfOrder }
        return try transport!.encrypt(plaintext)
    }

    func open(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard transport != nil else { throw .outOfOrder }
        return try transport!.decrypt(ciphertext)
    }
}

@Suite("Noise from actors")
struct NoiseActorUsageTests {
    @Test("an XX session between two actors")
    func actors() async throws {
        var random = SystemRandom()
        let client = try Endpoint(pattern: .xx, role: .initiator, staticKey: X25519.PrivateKey(using: &random))
        let server = try Endpoint(pattern: .xx, role: .responder, staticKey: X25519.PrivateKey(using: &random))
        var rounds = 0
        while true {
            let established = (await client.isEstablished, await server.isEstablished)
            if established.0 && established.1 { break }
            rounds += 1
            try #require(rounds <= 3)
            if let message = try await client.nextHandshakeMessage() {
                try await server.receiveHandshakeMessage(message)
            }
            if let message = try await server.nextHandshakeMessage() {
                try await client.receiveHandshakeMessage(message)
            }
        }
        let hashes = (await client.handshakeHash, await server.handshakeHash)
        #expect(hashes.0 != nil && hashes.0 == hashes.1)
        let reply = try await server.open(client.seal(Array("ping".utf8)))
        #expect(reply == Array("ping".utf8))
        #expect(try await client.open(server.seal([0xff])) == [0xff])
    }
}
