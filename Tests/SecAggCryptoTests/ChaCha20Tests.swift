import SecAggCrypto
import Testing

@Suite("ChaCha20-IETF (RFC 8439)")
struct ChaCha20Tests {
    struct KeystreamVector: Sendable, CustomTestStringConvertible {
        let name: String
        let key: String
        let nonce: String
        let counter: UInt32
        let keystream: String
        var testDescription: String { name }
    }

    private static let zeroKey = String(repeating: "00", count: 32)
    private static let zeroNonce = String(repeating: "00", count: 12)

    /// RFC 8439 §2.3.2 (one block) and Appendix A.1.
    static let keystreamVectors: [KeystreamVector] = [
        KeystreamVector(
            name: "§2.3.2 block", key: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            nonce: "000000090000004a00000000", counter: 1,
            keystream: """
                10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e\
                d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e
                """),
        KeystreamVector(
            name: "A.1 #1", key: zeroKey, nonce: zeroNonce, counter: 0,
            keystream: """
                76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7\
                da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586
                """),
        KeystreamVector(
            name: "A.1 #2", key: zeroKey, nonce: zeroNonce, counter: 1,
            keystream: """
                9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed\
                29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f
                """),
        KeystreamVector(
            name: "A.1 #3", key: String(repeating: "00", count: 31) + "01", nonce: zeroNonce, counter: 1,
            keystream: """
                3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a\
                8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0
                """),
        KeystreamVector(
            name: "A.1 #4", key: "00ff" + String(repeating: "00", count: 30), nonce: zeroNonce, counter: 2,
            keystream: """
                72d54dfbf12ec44b362692df94137f328fea8da73990265ec1bbbea1ae9af0ca\
                13b25aa26cb4a648cb9b9d1be65b2c0924a66c54d545ec1b7374f4872e99f096
                """),
        KeystreamVector(
            name: "A.1 #5", key: zeroKey, nonce: String(repeating: "00", count: 11) + "02", counter: 0,
            keystream: """
                c2c64d378cd536374ae204b9ef933fcd1a8b2288b3dfa49672ab765b54ee27c7\
                8a970e0e955c14f3a88e741b97c286f75f8fc299e8148362fa198a39531bed6d
                """),
    ]

    @Test("RFC 8439 A.1 keystream vectors", arguments: keystreamVectors)
    func keystreamVector(_ vector: KeystreamVector) throws {
        let key = try symmetricKey(vector.key)
        let expected = hex(vector.keystream)
        let stream = ChaCha20.keystream(key: key, nonce: hex(vector.nonce), counter: vector.counter, count: expected.count)
        #expect(stream == expected)
    }

    @Test("RFC 8439 §2.4.2: encrypting the sunscreen text with counter 1")
    func sunscreenEncryption() throws {
        let key = try symmetricKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        let nonce = hex("000000000000004a00000000")
        let expectedCiphertext = hex("""
            6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b\
            f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8\
            07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736\
            5af90bbf74a35be6b40b8eedf2785e42874d
            """)
        let stream = ChaCha20.keystream(key: key, nonce: nonce, counter: 1, count: sunscreen.count)
        let ciphertext = zip(sunscreen, stream).map { $0 ^ $1 }
        #expect(ciphertext == expectedCiphertext)
        // The first keystream block of §2.4.2 (block 1), serialized.
        #expect(Array(stream.prefix(16)) == hex("224f51f3401bd9e12fde276fb8631ded"))
    }

    @Test("fillKeystream equals keystream, and counters address 64-byte blocks")
    func fillAndCounter() throws {
        let key = try symmetricKey("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        let nonce = hex("000000090000004a00000000")
        let long = ChaCha20.keystream(key: key, nonce: nonce, counter: 0, count: 1000)
        var filled = [UInt8](repeating: 0xaa, count: 1000)
        filled.withUnsafeMutableBytes { ChaCha20.fillKeystream(key: key, nonce: nonce, counter: 0, into: $0) }
        #expect(filled == long)
        let fromBlock3 = ChaCha20.keystream(key: key, nonce: nonce, counter: 3, count: 100)
        #expect(fromBlock3 == Array(long[192..<292]))
        #expect(ChaCha20.keystream(key: key, nonce: nonce, counter: 0, count: 0).isEmpty)
    }

    // Keystream longer than the 4 KiB of zeros it is XORed with (filled piece by piece) equals the same keystream
    // block by block, each block asked for with its own counter.
    @Test("Keystream across 4 KiB pieces equals block-by-block keystream")
    func acrossPieces() throws {
        let key = try symmetricKey(String(repeating: "5a", count: 32))
        let nonce = [UInt8](repeating: 0, count: 12)
        let long = ChaCha20.keystream(key: key, nonce: nonce, counter: 7, count: 10_000)
        var blocks: [UInt8] = []
        for block in 0..<(10_000 + 63) / 64 {
            blocks += ChaCha20.keystream(key: key, nonce: nonce, counter: 7 + UInt32(block), count: 64)
        }
        #expect(long == Array(blocks.prefix(10_000)))
    }

    @Test("The last block before the counter wraps is reachable")
    func lastBlock() throws {
        let key = try symmetricKey(String(repeating: "11", count: 32))
        let block = ChaCha20.keystream(key: key, nonce: [UInt8](repeating: 0, count: 12), counter: .max, count: 64)
        #expect(block.count == 64)
        #expect(block != [UInt8](repeating: 0, count: 64))
    }
}
