import SecAggCrypto
import Testing

@testable import SecAggNoise

@Suite("Noise test vectors (cacophony, snow)")
struct NoiseVectorTests {
    @Test("both files hold XX, IK and NN")
    func coverage() throws {
        let vectors = try loadVectors()
        #expect(vectors.count == 6)
        for source in ["cacophony", "snow"] {
            let names = Set(vectors.filter { $0.source == source }.map(\.protocolName))
            #expect(names == ["Noise_XX_25519_ChaChaPoly_BLAKE2b", "Noise_IK_25519_ChaChaPoly_BLAKE2b", "Noise_NN_25519_ChaChaPoly_BLAKE2b"])
        }
    }

    @Test("replays byte for byte", arguments: try loadVectors())
    func replay(_ vector: NoiseVector) throws {
        let pattern = try vector.pattern
        #expect(NoiseProtocolName(pattern: pattern).description == vector.protocolName)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        let handshakeCount = pattern.messages.count
        #expect(vector.messages.count > handshakeCount)

        for (index, message) in vector.messages.prefix(handshakeCount).enumerated() {
            let payload = hex(message.payload)
            let expected = hex(message.ciphertext)
            let hasKey = index > 0
            let length = NoiseHandshake.messageLength(
                tokens: pattern.messages[index], payloadCount: payload.count, hasKey: hasKey)
            #expect(length == expected.count)
            if index.isMultiple(of: 2) {
                #expect(try initiator.writeMessage(payload: payload) == expected, "message \(index) ciphertext")
                #expect(try responder.readMessage(expected) == payload, "message \(index) payload")
            } else {
                #expect(try responder.writeMessage(payload: payload) == expected, "message \(index) ciphertext")
                #expect(try initiator.readMessage(expected) == payload, "message \(index) payload")
            }
            #expect(initiator.handshakeHash == responder.handshakeHash)
        }

        #expect(initiator.isComplete && responder.isComplete)
        #expect(initiator.handshakeHash.count == 64)
        if let handshakeHash = vector.handshakeHash {
            #expect(initiator.handshakeHash == hex(handshakeHash))
        }
        // Static keys learned (or pinned) agree with the other side's key pair.
        let initiatorPublic = try vector.initStatic.map { try privateKey($0).publicKey }
        let responderPublic = try vector.respStatic.map { try privateKey($0).publicKey }
        #expect(initiator.remoteStaticKey == responderPublic)
        #expect(responder.remoteStaticKey == initiatorPublic)
        if let pinned = vector.initRemoteStatic {
            #expect(try publicKey(pinned) == responderPublic)
        }

        var initiatorTransport = try initiator.split()
        var responderTransport = try responder.split()
        #expect(initiatorTransport.handshakeHash == responderTransport.handshakeHash)
        #expect(initiatorTransport.remoteStaticKey == responderPublic)
        for (index, message) in vector.messages.enumerated().dropFirst(handshakeCount) {
            let payload = hex(message.payload)
            let expected = hex(message.ciphertext)
            if index.isMultiple(of: 2) {
                #expect(try initiatorTransport.encrypt(payload) == expected, "transport message \(index)")
                #expect(try responderTransport.decrypt(expected) == payload, "transport message \(index)")
            } else {
                #expect(try responderTransport.encrypt(payload) == expected, "transport message \(index)")
                #expect(try initiatorTransport.decrypt(expected) == payload, "transport message \(index)")
            }
        }
    }

    @Test("a flipped bit anywhere in a handshake message aborts the handshake", arguments: try loadVectors())
    func tampering(_ vector: NoiseVector) throws {
        let pattern = try vector.pattern
        let handshakeCount = pattern.messages.count
        for target in 0..<handshakeCount {
            let length = hex(vector.messages[target].ciphertext).count
            // Message 0 of XX and NN is not authenticated on its own (no key yet): the change of the handshake
            // hash (or of the DH result) is caught when the initiator reads message 1.
            let expectedFailure = target == 0 && pattern != .ik ? 1 : target
            for position in 0..<length {
                let outcome = try runTampered(vector, target: target) { $0[position] ^= 0x01 }
                #expect(
                    outcome?.index == expectedFailure && outcome?.error == .decryptionFailed,
                    "message \(target), byte \(position): \(String(describing: outcome))")
            }
        }
    }

    /// Runs the vector's handshake, changing message `target` on the wire with `tamper`. Returns the index of
    /// the message whose read failed and its error (after checking the failed party stays aborted), or `nil`
    /// if the handshake completed.
    private func runTampered(
        _ vector: NoiseVector, target: Int, tamper: (inout [UInt8]) -> Void
    ) throws -> (index: Int, error: NoiseError)? {
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        for index in try vector.pattern.messages.indices {
            let payload = hex(vector.messages[index].payload)
            if index.isMultiple(of: 2) {
                var wire = try initiator.writeMessage(payload: payload)
                if index == target { tamper(&wire) }
                if let error = noiseError({ _ = try responder.readMessage(wire) }) {
                    expectAborted(responder)
                    return (index, error)
                }
            } else {
                var wire = try responder.writeMessage(payload: payload)
                if index == target { tamper(&wire) }
                if let error = noiseError({ _ = try initiator.readMessage(wire) }) {
                    expectAborted(initiator)
                    return (index, error)
                }
            }
        }
        return nil
    }
}
