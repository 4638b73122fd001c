import SecAggCrypto
import Testing

@Suite("ChaCha20-Poly1305 AEAD (RFC 8439)")
struct ChaChaPolyTests {
    /// RFC 8439 §2.8.2.
    private let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    private let nonce = hex("070000004041424344454647")
    private let associatedData = hex("50515253c0c1c2c3c4c5c6c7")
    private let ciphertext = hex("""
        d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
        3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
        92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
        3ff4def08e4b7a9de576d26586cec64b6116
        """)
    private let tag = hex("1ae10b594f09e26a7e902ecbd0600691")

    private func symmetric() throws -> SymmetricKey {
        try SymmetricKey(SecureBytes(copying: key))
    }

    @Test("RFC 8439 §2.8.2: seal gives the published ciphertext and tag; open recovers the plaintext")
    func knownAnswer() throws {
        let sealed = try ChaChaPoly.seal(
            SecureBytes(copying: sunscreen), using: symmetric(), nonce: nonce, authenticating: associatedData)
        #expect(sealed == ciphertext + tag)
        let opened = try ChaChaPoly.open(sealed, using: symmetric(), nonce: nonce, authenticating: associatedData)
        #expect(opened.unsafeCopyToArray() == sunscreen)
    }

    @Test("Any flipped bit in ciphertext, tag, associated data or nonce fails authentication")
    func tampering() throws {
        let sealed = ciphertext + tag
        let key = try symmetric()
        for index in [0, 57, ciphertext.count - 1, ciphertext.count, sealed.count - 1] {
            #expect(throws: CryptoError.authenticationFailed) {
                try ChaChaPoly.open(
                    flippingBit(sealed, at: index, bit: index % 8), using: key, nonce: nonce,
                    authenticating: associatedData)
            }
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(sealed, using: key, nonce: nonce, authenticating: flippingBit(associatedData, at: 4))
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(sealed, using: key, nonce: flippingBit(nonce, at: 11, bit: 7), authenticating: associatedData)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(sealed, using: key, nonce: nonce, authenticating: [])
        }
        let otherKey = try SymmetricKey(SecureBytes(copying: flippingBit(self.key, at: 0)))
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(sealed, using: otherKey, nonce: nonce, authenticating: associatedData)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(Array(sealed.dropLast()), using: key, nonce: nonce, authenticating: associatedData)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try ChaChaPoly.open(Array(tag.prefix(15)), using: key, nonce: nonce, authenticating: associatedData)
        }
    }

    @Test("Empty plaintext and empty associated data round-trip")
    func empty() throws {
        let key = try symmetric()
        let sealed = try ChaChaPoly.seal(SecureBytes(copying: []), using: key, nonce: nonce, authenticating: [])
        #expect(sealed.count == ChaChaPoly.tagByteCount)
        let opened = try ChaChaPoly.open(sealed, using: key, nonce: nonce, authenticating: [])
        #expect(opened.count == 0)
    }

    @Test("Wrong nonce lengths are rejected with invalidLength")
    func wrongNonceLength() throws {
        let key = try symmetric()
        let expected = CryptoError.invalidLength(what: "ChaChaPoly nonce", expected: 12, actual: 8)
        #expect(throws: expected) {
            try ChaChaPoly.seal(SecureBytes(copying: [1]), using: key, nonce: Array(nonce.prefix(8)), authenticating: [])
        }
        #expect(throws: expected) {
            try ChaChaPoly.open(ciphertext + tag, using: key, nonce: Array(nonce.prefix(8)), authenticating: [])
        }
    }
}
