import SecAggCrypto
import Testing

@testable import SecAggNoise

@Suite("Noise handshake")
struct NoiseHandshakeTests {
    @Test("fresh keys from the system CSPRNG complete every pattern", arguments: NoisePattern.all)
    func freshHandshake(_ pattern: NoisePattern) throws {
        var pair = try establish(pattern)
        let hashes = (pair.initiator.handshakeHash, pair.responder.handshakeHash)
        #expect(hashes.0 == hashes.1)
        for round in 0..<4 {
            let message = Array("round \(round)".utf8)
            #expect(try pair.responder.decrypt(pair.initiator.encrypt(message)) == message)
            #expect(try pair.initiator.decrypt(pair.responder.encrypt(message + [1])) == message + [1])
        }
    }

    @Test("two sessions with the same keys differ (fresh ephemerals)")
    func freshEphemerals() throws {
        let first = try establish(.xx)
        let second = try establish(.xx)
        let hashes = (first.initiator.handshakeHash, second.initiator.handshakeHash)
        #expect(hashes.0 != hashes.1)
    }

    @Test("writing out of turn throws outOfOrder and changes nothing")
    func writeOutOfTurn() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        #expect(noiseError { _ = try responder.writeMessage(payload: []) } == .outOfOrder)
        let message0 = try initiator.writeMessage(payload: hex(vector.messages[0].payload))
        // The initiator cannot write twice in a row either.
        #expect(noiseError { _ = try initiator.writeMessage(payload: []) } == .outOfOrder)
        let failed = (initiator.hasFailed, responder.hasFailed)
        #expect(failed == (false, false))
        // Both still produce the vector's bytes afterwards.
        #expect(message0 == hex(vector.messages[0].ciphertext))
        _ = try responder.readMessage(message0)
        #expect(try responder.writeMessage(payload: hex(vector.messages[1].payload)) == hex(vector.messages[1].ciphertext))
    }

    @Test("reading out of turn aborts the handshake")
    func readOutOfTurn() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        #expect(noiseError { _ = try initiator.readMessage(hex(vector.messages[1].ciphertext)) } == .outOfOrder)
        expectAborted(initiator)
    }

    @Test("after the last message only split() is allowed")
    func afterCompletion() throws {
        let vector = try cacophonyVector(.nn)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        _ = try initiator.readMessage(responder.writeMessage(payload: []))
        #expect(noiseError { _ = try initiator.writeMessage(payload: []) } == .outOfOrder)
        // Writing out of turn changed nothing: the initiator still splits.
        var initiatorTransport = try initiator.split()
        // An extra handshake message after completion is a protocol violation and aborts.
        #expect(noiseError { _ = try responder.readMessage(hex(vector.messages[0].ciphertext)) } == .outOfOrder)
        expectAborted(responder)
        _ = try initiatorTransport.encrypt([1, 2, 3])
    }

    @Test("split() before the last message throws outOfOrder")
    func splitTooEarly() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        _ = try initiator.writeMessage(payload: [])
        do {
            _ = try initiator.split()
            Issue.record("split() of an incomplete handshake succeeded")
        } catch {
            #expect(error == .outOfOrder)
        }
    }

    @Test(
        "a truncated message aborts the handshake",
        arguments: [
            // XX message 1 is e (32) ‖ encrypted s (48) ‖ encrypted payload (16 + payload).
            (1, 0), (1, 31), (1, 32), (1, 32 + 47), (1, 32 + 48), (1, 32 + 48 + 15),
            // XX message 0 is e (32) ‖ payload in the clear.
            (0, 0), (0, 31),
            // XX message 2 is encrypted s (48) ‖ encrypted payload (16 + payload).
            (2, 47), (2, 48 + 15),
        ])
    func truncated(message index: Int, length: Int) throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        for step in 0..<index {
            let payload = hex(vector.messages[step].payload)
            if step.isMultiple(of: 2) {
                _ = try responder.readMessage(initiator.writeMessage(payload: payload))
            } else {
                _ = try initiator.readMessage(responder.writeMessage(payload: payload))
            }
        }
        let full = hex(vector.messages[index].ciphertext)
        let cut = Array(full.prefix(length))
        if index.isMultiple(of: 2) {
            _ = try initiator.writeMessage(payload: hex(vector.messages[index].payload))
            #expect(noiseError { _ = try responder.readMessage(cut) } == .truncated)
            expectAborted(responder)
        } else {
            _ = try responder.writeMessage(payload: hex(vector.messages[index].payload))
            #expect(noiseError { _ = try initiator.readMessage(cut) } == .truncated)
            expectAborted(initiator)
        }
    }

    @Test("messages are limited to 65535 bytes on write and on read")
    func messageLimit() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        // Message 0 is e (32 bytes) ‖ payload: at most 65503 payload bytes.
        #expect(noiseError { _ = try initiator.writeMessage(payload: [UInt8](repeating: 7, count: 65504)) } == .messageTooLarge)
        let failed = initiator.hasFailed
        #expect(!failed)
        let largest = try initiator.writeMessage(payload: [UInt8](repeating: 7, count: 65503))
        #expect(largest.count == 65535)
        #expect(try responder.readMessage(largest) == [UInt8](repeating: 7, count: 65503))
        // Message 1 carries e, encrypted s and a tag: 96 bytes of overhead.
        #expect(noiseError { _ = try responder.writeMessage(payload: [UInt8](repeating: 1, count: 65440)) } == .messageTooLarge)
        let message1 = try responder.writeMessage(payload: [UInt8](repeating: 1, count: 65439))
        #expect(message1.count == 65535)

        // Reading more than 65535 bytes aborts, before any processing.
        #expect(noiseError { _ = try initiator.readMessage(message1 + [0]) } == .messageTooLarge)
        expectAborted(initiator)
    }

    @Test("a too-large message in place of the first one aborts the responder")
    func oversizedFirstMessage() throws {
        let vector = try cacophonyVector(.xx)
        var responder = try makeResponder(vector)
        #expect(noiseError { _ = try responder.readMessage([UInt8](repeating: 9, count: 65536)) } == .messageTooLarge)
        expectAborted(responder)
    }

    @Test("IK: an initiator expecting another responder key fails at the responder")
    func ikStaticKeyMismatch() throws {
        let vector = try cacophonyVector(.ik)
        var random = SystemRandom()
        let wrongKey = X25519.PrivateKey(using: &random).publicKey
        var initiator = try makeInitiator(vector, remoteStaticKey: .some(wrongKey))
        var responder = try makeResponder(vector)
        let message0 = try initiator.writeMessage(payload: hex(vector.messages[0].payload))
        #expect(message0 != hex(vector.messages[0].ciphertext))
        #expect(noiseError { _ = try responder.readMessage(message0) } == .decryptionFailed)
        let learned = responder.remoteStaticKey
        #expect(learned == nil)
        expectAborted(responder)
    }

    @Test("a different prologue makes the first authenticated message fail")
    func prologueMismatch() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector, prologue: Array("another prologue".utf8))
        var responder = try makeResponder(vector)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        let message1 = try responder.writeMessage(payload: [])
        #expect(noiseError { _ = try initiator.readMessage(message1) } == .decryptionFailed)
        expectAborted(initiator)
    }

    /// Low-order points of Curve25519 (u = 0 and u = 1), whose DH output is all zeros.
    static let lowOrderPoints: [[UInt8]] = [
        [UInt8](repeating: 0, count: 32),
        [1] + [UInt8](repeating: 0, count: 31),
    ]

    @Test("IK: a low-order responder key is rejected when writing", arguments: lowOrderPoints)
    func ikWeakRemoteStatic(_ point: [UInt8]) throws {
        let vector = try cacophonyVector(.ik)
        var initiator = try makeInitiator(vector, remoteStaticKey: .some(X25519.PublicKey(rawRepresentation: point)))
        #expect(noiseError { _ = try initiator.writeMessage(payload: []) } == .weakKey)
        expectAborted(initiator)
    }

    @Test("XX: a low-order ephemeral is rejected by the reader of the DH", arguments: lowOrderPoints)
    func weakEphemeralOnRead(_ point: [UInt8]) throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        var message1 = try responder.writeMessage(payload: [])
        message1.replaceSubrange(0..<32, with: point)
        #expect(noiseError { _ = try initiator.readMessage(message1) } == .weakKey)
        expectAborted(initiator)
    }

    @Test("XX: a low-order ephemeral in message 0 is rejected when the responder writes", arguments: lowOrderPoints)
    func weakEphemeralOnWrite(_ point: [UInt8]) throws {
        let vector = try cacophonyVector(.xx)
        var responder = try makeResponder(vector)
        _ = try responder.readMessage(point)
        #expect(noiseError { _ = try responder.writeMessage(payload: []) } == .weakKey)
        expectAborted(responder)
    }

    @Test("keys must match the pattern")
    func keyConfiguration() throws {
        var random = SystemRandom()
        let key = X25519.PrivateKey(using: &random)
        func initError(
            _ pattern: NoisePattern, _ role: NoiseRole, staticKey: X25519.PrivateKey?, remote: X25519.PublicKey?
        ) -> NoiseError? {
            var random = SystemRandom()
            do {
                _ = try NoiseHandshake(
                    pattern: pattern, role: role, prologue: [], staticKey: staticKey, remoteStaticKey: remote,
                    ephemeralSource: &random)
                return nil
            } catch {
                return error
            }
        }
        #expect(initError(.xx, .initiator, staticKey: nil, remote: nil) == .missingKey)
        #expect(initError(.xx, .responder, staticKey: nil, remote: nil) == .missingKey)
        #expect(initError(.xx, .initiator, staticKey: key, remote: key.publicKey) == .unusedKey)
        #expect(initError(.ik, .initiator, staticKey: key, remote: nil) == .missingKey)
        #expect(initError(.ik, .initiator, staticKey: nil, remote: key.publicKey) == .missingKey)
        #expect(initError(.ik, .responder, staticKey: nil, remote: nil) == .missingKey)
        #expect(initError(.ik, .responder, staticKey: key, remote: key.publicKey) == .unusedKey)
        #expect(initError(.nn, .initiator, staticKey: key, remote: nil) == .unusedKey)
        #expect(initError(.nn, .responder, staticKey: nil, remote: key.publicKey) == .unusedKey)
        #expect(initError(.xx, .initiator, staticKey: key, remote: nil) == nil)
        #expect(initError(.ik, .initiator, staticKey: key, remote: key.publicKey) == nil)
        #expect(initError(.ik, .responder, staticKey: key, remote: nil) == nil)
        #expect(initError(.nn, .responder, staticKey: nil, remote: nil) == nil)
    }

    @Test("the remote static key is known once its message has been read")
    func remoteStaticTiming() throws {
        let vector = try cacophonyVector(.xx)
        var initiator = try makeInitiator(vector)
        var responder = try makeResponder(vector)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        var known = (initiator.remoteStaticKey, responder.remoteStaticKey)
        #expect(known.0 == nil && known.1 == nil)
        _ = try initiator.readMessage(responder.writeMessage(payload: []))
        known = (initiator.remoteStaticKey, responder.remoteStaticKey)
        #expect(try known.0 == privateKey(#require(vector.respStatic)).publicKey && known.1 == nil)
        _ = try responder.readMessage(initiator.writeMessage(payload: []))
        known = (initiator.remoteStaticKey, responder.remoteStaticKey)
        #expect(try known.1 == privateKey(#require(vector.initStatic)).publicKey)
    }
}
