import SecAggCrypto
import Testing

@Suite("X25519 (RFC 7748)")
struct X25519Tests {
    struct ScalarMultiplication: Sendable {
        let scalar: String
        let uCoordinate: String
        let output: String
    }

    /// RFC 7748 §5.2 (the second input u-coordinate has its top bit set, which must be ignored).
    static let scalarMultiplications: [ScalarMultiplication] = [
        ScalarMultiplication(
            scalar: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            uCoordinate: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            output: "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"),
        ScalarMultiplication(
            scalar: "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            uCoordinate: "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            output: "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"),
    ]

    @Test("RFC 7748 §5.2 scalar multiplication vectors", arguments: scalarMultiplications)
    func scalarMultiplication(_ vector: ScalarMultiplication) throws {
        let key = try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: hex(vector.scalar)))
        let peer = try X25519.PublicKey(rawRepresentation: hex(vector.uCoordinate))
        let secret = try key.sharedSecret(with: peer)
        #expect(secret.withUnsafeBytes { Array($0) } == hex(vector.output))
    }

    @Test("RFC 7748 §5.2 iterated vector: after 1 and 1,000 iterations")
    func iterated() throws {
        var k = [9] + [UInt8](repeating: 0, count: 31)
        var u = k
        for iteration in 1...1000 {
            let key = try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: k))
            let output = try key.sharedSecret(with: X25519.PublicKey(rawRepresentation: u)).withUnsafeBytes { Array($0) }
            (k, u) = (output, k)
            if iteration == 1 {
                #expect(k == hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079"))
            }
        }
        #expect(k == hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"))
    }

    @Test("RFC 7748 §6.1 Diffie–Hellman: public keys and shared secret")
    func diffieHellman() throws {
        let alice = try X25519.PrivateKey(
            rawRepresentation: SecureBytes(copying: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")))
        let bob = try X25519.PrivateKey(
            rawRepresentation: SecureBytes(copying: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")))
        #expect(alice.publicKey.rawRepresentation == hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bob.publicKey.rawRepresentation == hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        let expected = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        let aliceSecret = try alice.sharedSecret(with: bob.publicKey)
        let bobSecret = try bob.sharedSecret(with: alice.publicKey)
        #expect(aliceSecret.withUnsafeBytes { Array($0) } == expected)
        #expect(bobSecret.withUnsafeBytes { Array($0) } == expected)
    }

    @Test("The raw representation is kept unclamped, exactly as drawn")
    func rawRepresentationIsUnclamped() throws {
        var random = CountingRandom(next: 0xf8)  // first byte 0xf8 would lose its low bits under clamping
        let key = X25519.PrivateKey(using: &random)
        let drawn = (0..<32).map { UInt8(truncatingIfNeeded: 0xf8 + $0) }
        #expect(key.rawRepresentation.unsafeCopyToArray() == drawn)
        let restored = try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: drawn))
        #expect(restored.publicKey == key.publicKey)
    }

    @Test("Low-order public keys give weakPublicKey", arguments: [
        "0000000000000000000000000000000000000000000000000000000000000000",  // u = 0
        "0100000000000000000000000000000000000000000000000000000000000000",  // u = 1
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",  // order 8
    ])
    func lowOrderPoints(_ point: String) throws {
        var random = CountingRandom(next: 3)
        let key = X25519.PrivateKey(using: &random)
        let peer = try X25519.PublicKey(rawRepresentation: hex(point))
        #expect(throws: CryptoError.weakPublicKey) { try key.sharedSecret(with: peer) }
    }

    @Test("Wrong lengths are rejected with invalidLength")
    func wrongLengths() {
        #expect(throws: CryptoError.invalidLength(what: "X25519 private key", expected: 32, actual: 16)) {
            try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: [UInt8](repeating: 1, count: 16)))
        }
        #expect(throws: CryptoError.invalidLength(what: "X25519 public key", expected: 32, actual: 0)) {
            try X25519.PublicKey(rawRepresentation: [])
        }
    }

    @Test("SharedSecret.deriveKey equals KDF.deriveKey over the raw secret")
    func deriveKeyMatchesKDF() throws {
        var random = CountingRandom(next: 40)
        let alice = X25519.PrivateKey(using: &random)
        let bob = X25519.PrivateKey(using: &random)
        let secret = try alice.sharedSecret(with: bob.publicKey)
        let context: [UInt8] = [1, 2, 3]
        let viaSecret = secret.deriveKey(label: "secagg/share-encryption", context: context)
        let raw = SecureBytes(copying: secret.withUnsafeBytes { Array($0) })
        let viaKDF = KDF.deriveKey(label: "secagg/share-encryption", from: raw, context: context)
        #expect(viaSecret.bytes.constantTimeEquals(viaKDF.bytes))
        let bobView = try bob.sharedSecret(with: alice.publicKey).deriveKey(label: "secagg/share-encryption", context: context)
        #expect(bobView.bytes.constantTimeEquals(viaSecret.bytes))
    }
}
