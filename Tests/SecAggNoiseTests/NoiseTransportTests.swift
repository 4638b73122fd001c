import SecAggCrypto
import Testing

@testable import SecAggNoise

@Suite("Noise transport")
struct NoiseTransportTests {
    @Test("encrypting the same plaintext twice gives different ciphertexts; nonces count messages")
    func noNonceReuse() throws {
        var pair = try establish(.xx)
        let plaintext = Array("same message".utf8)
        let first = try pair.initiator.encrypt(plaintext)
        let second = try pair.initiator.encrypt(plaintext)
        #expect(first != second)
        #expect(first.count == plaintext.count + 16)
        let sent = pair.initiator.sendingNonce
        #expect(sent == 2)
        #expect(try pair.responder.decrypt(first) == plaintext)
        #expect(try pair.responder.decrypt(second) == plaintext)
        let received = pair.responder.receivingNonce
        #expect(received == 2)
        // The two directions use different keys: the same plaintext at the same nonce differs.
        var other = try establish(.nn)
        let forward = try other.initiator.encrypt(plaintext)
        let backward = try other.responder.encrypt(plaintext)
        #expect(forward != backward)
    }

    @Test("a tampered ciphertext fails and ends the session", arguments: [0, 5, 11, 12, 27])
    func tampered(position: Int) throws {
        var pair = try establish(.xx)
        var ciphertext = try pair.initiator.encrypt(Array("hello, world".utf8))
        #expect(ciphertext.count == 28)
        ciphertext[position] ^= 0x80
        #expect(noiseError { _ = try pair.responder.decrypt(ciphertext) } == .decryptionFailed)
        let state = (pair.responder.hasFailed, pair.responder.receivingNonce)
        #expect(state == (true, 0))
        let next = try pair.initiator.encrypt([1])
        #expect(noiseError { _ = try pair.responder.decrypt(next) } == .transportFailed)
        #expect(noiseError { _ = try pair.responder.encrypt([2]) } == .transportFailed)
    }

    @Test("replayed and reordered messages fail")
    func replayAndReorder() throws {
        var pair = try establish(.xx)
        let first = try pair.initiator.encrypt([1])
        #expect(try pair.responder.decrypt(first) == [1])
        #expect(noiseError { _ = try pair.responder.decrypt(first) } == .decryptionFailed)

        var other = try establish(.xx)
        let a = try other.initiator.encrypt([1])
        let b = try other.initiator.encrypt([2])
        #expect(noiseError { _ = try other.responder.decrypt(b) } == .decryptionFailed)
        #expect(noiseError { _ = try other.responder.decrypt(a) } == .transportFailed)
    }

    @Test("a message from another session fails")
    func crossSession() throws {
        var first = try establish(.xx)
        var second = try establish(.xx)
        let message = try first.initiator.encrypt([1, 2, 3])
        #expect(noiseError { _ = try second.responder.decrypt(message) } == .decryptionFailed)
    }

    @Test("ciphertexts shorter than a tag are truncated; an empty plaintext is a bare tag")
    func shortCiphertexts() throws {
        var pair = try establish(.nn)
        let empty = try pair.initiator.encrypt([])
        #expect(empty.count == 16)
        #expect(try pair.responder.decrypt(empty) == [])
        #expect(noiseError { _ = try pair.responder.decrypt(Array(empty.prefix(15))) } == .truncated)
        let failed = pair.responder.hasFailed
        #expect(failed)
    }

    @Test("plaintexts are limited to 65519 bytes, ciphertexts to 65535")
    func sizeLimits() throws {
        var pair = try establish(.xx)
        #expect(NoiseTransport.maxPlaintextLength == 65519)
        #expect(noiseError { _ = try pair.initiator.encrypt([UInt8](repeating: 3, count: 65520)) } == .messageTooLarge)
        let unchanged = (pair.initiator.hasFailed, pair.initiator.sendingNonce)
        #expect(unchanged == (false, 0))
        let largest = try pair.initiator.encrypt([UInt8](repeating: 3, count: 65519))
        #expect(largest.count == 65535)
        #expect(try pair.responder.decrypt(largest) == [UInt8](repeating: 3, count: 65519))
        #expect(noiseError { _ = try pair.initiator.decrypt([UInt8](repeating: 0, count: 65536)) } == .messageTooLarge)
    }

    @Test("nonce 2^64 − 1 is never used: exhaustion is an error")
    func nonceExhaustion() throws {
        var pair = try establish(.xx)
        pair.initiator.setNonces(sending: UInt64.max - 1, receiving: 0)
        pair.responder.setNonces(sending: 0, receiving: UInt64.max - 1)
        let last = try pair.initiator.encrypt([42])
        #expect(try pair.responder.decrypt(last) == [42])
        #expect(noiseError { _ = try pair.initiator.encrypt([43]) } == .nonceExhausted)
        #expect(noiseError { _ = try pair.responder.decrypt(last) } == .nonceExhausted)
        // The nonce stays reserved: nothing is ever encrypted under 2^64 − 1.
        let nonce = pair.initiator.sendingNonce
        #expect(nonce == UInt64.max)
    }

    @Test("rekeying both ends of a direction keeps them in step")
    func rekey() throws {
        var pair = try establish(.xx)
        let before = try pair.initiator.encrypt([1])
        #expect(try pair.responder.decrypt(before) == [1])
        pair.initiator.rekeySending()
        pair.responder.rekeyReceiving()
        let after = try pair.initiator.encrypt([2])
        #expect(try pair.responder.decrypt(after) == [2])
        // The other direction is unaffected.
        #expect(try pair.initiator.decrypt(pair.responder.encrypt([3])) == [3])
        // A one-sided rekey breaks the direction.
        pair.responder.rekeySending()
        let mismatched = try pair.responder.encrypt([4])
        #expect(noiseError { _ = try pair.initiator.decrypt(mismatched) } == .decryptionFailed)
    }

    @Test("the transport carries the session's handshake hash and peer key")
    func sessionIdentity() throws {
        let pair = try establish(.ik)
        let hashes = (pair.initiator.handshakeHash, pair.responder.handshakeHash)
        #expect(hashes.0 == hashes.1 && hashes.0.count == 64)
        let roles = (pair.initiator.role, pair.responder.role)
        #expect(roles == (.initiator, .responder))
        let keys = (pair.initiator.remoteStaticKey, pair.responder.remoteStaticKey)
        #expect(keys.0 != nil && keys.1 != nil && keys.0 != keys.1)
    }
}
