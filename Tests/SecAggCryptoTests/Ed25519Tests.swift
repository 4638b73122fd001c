import SecAggCrypto
import Testing

@Suite("Ed25519 (RFC 8032)")
struct Ed25519Tests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let name: String
        let seed: String
        let publicKey: String
        let message: String
        let signature: String
        var testDescription: String { name }
    }

    /// RFC 8032 §7.1.
    static let vectors: [Vector] = [
        Vector(
            name: "TEST 1",
            seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: """
                e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b\
                d25bf5f0595bbe24655141438e7a100b
                """),
        Vector(
            name: "TEST 2",
            seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: """
                92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c\
                387b2eaeb4302aeeb00d291612bb0c00
                """),
        Vector(
            name: "TEST 3",
            seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: """
                6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc659\
                4a7c15e9716ed28dc027beceea1ec40a
                """),
        Vector(
            name: "TEST SHA(abc)",
            seed: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: """
                ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd\
                454d4423643ce80e2a9ac94fa54ca49f
                """,
            signature: """
                dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e030\
                3dca179c138ac17ad9bef1177331a704
                """),
    ]

    @Test("Known-answer vectors: key derivation, signing and verification", arguments: vectors)
    func knownAnswer(_ vector: Vector) throws {
        let key = try Ed25519.SigningKey(seed: SecureBytes(copying: hex(vector.seed)))
        #expect(key.verifyingKey.rawRepresentation == hex(vector.publicKey))
        let signature = key.signature(for: hex(vector.message))
        #expect(signature.rawRepresentation == hex(vector.signature))
        let verifyingKey = try Ed25519.VerifyingKey(rawRepresentation: hex(vector.publicKey))
        #expect(verifyingKey == key.verifyingKey)
        #expect(verifyingKey.isValidSignature(try Ed25519.Signature(rawRepresentation: hex(vector.signature)), for: hex(vector.message)))
    }

    @Test("A tampered message, signature or key fails verification", arguments: vectors)
    func tampering(_ vector: Vector) throws {
        let message = hex(vector.message)
        let verifyingKey = try Ed25519.VerifyingKey(rawRepresentation: hex(vector.publicKey))
        let signatureBytes = hex(vector.signature)
        let signature = try Ed25519.Signature(rawRepresentation: signatureBytes)

        let longerMessage = message + [0]
        #expect(!verifyingKey.isValidSignature(signature, for: longerMessage))
        if !message.isEmpty {
            #expect(!verifyingKey.isValidSignature(signature, for: flippingBit(message, at: 0)))
        }
        for index in [0, 31, 32, 63] {
            let tampered = try Ed25519.Signature(rawRepresentation: flippingBit(signatureBytes, at: index, bit: 3))
            #expect(!verifyingKey.isValidSignature(tampered, for: message))
        }
        var random = CountingRandom(next: 77)
        let otherKey = Ed25519.SigningKey(using: &random).verifyingKey
        #expect(!otherKey.isValidSignature(signature, for: message))
    }

    @Test("Random keys draw their seed from the random source and round-trip")
    func randomKeys() throws {
        var random = CountingRandom(next: 1)
        let key = Ed25519.SigningKey(using: &random)
        #expect(key.seed.unsafeCopyToArray() == Array(1...32))
        let restored = try Ed25519.SigningKey(seed: key.seed)
        #expect(restored.verifyingKey == key.verifyingKey)
        let message: [UInt8] = Array("session id".utf8)
        let signature = key.signature(for: message)
        #expect(signature == restored.signature(for: message))
        #expect(key.verifyingKey.isValidSignature(signature, for: message))
    }

    @Test("Wrong lengths are rejected with invalidLength")
    func wrongLengths() {
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 seed", expected: 32, actual: 31)) {
            try Ed25519.SigningKey(seed: SecureBytes(copying: [UInt8](repeating: 1, count: 31)))
        }
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 public key", expected: 32, actual: 33)) {
            try Ed25519.VerifyingKey(rawRepresentation: [UInt8](repeating: 1, count: 33))
        }
        #expect(throws: CryptoError.invalidLength(what: "Ed25519 signature", expected: 64, actual: 63)) {
            try Ed25519.Signature(rawRepresentation: [UInt8](repeating: 1, count: 63))
        }
    }

    @Test("Small-order and off-curve public keys are flagged and verify nothing")
    func invalidPublicKeys() throws {
        var random = CountingRandom()
        let signer = Ed25519.SigningKey(using: &random)
        let message: [UInt8] = Array("message".utf8)
        let signature = signer.signature(for: message)
        // The neutral element (0, 1) has order 1; y = 2 has no x on the curve.
        let identity = [1] + [UInt8](repeating: 0, count: 31)
        let offCurve = [2] + [UInt8](repeating: 0, count: 31)
        for raw in [identity, offCurve] {
            let key = try Ed25519.VerifyingKey(rawRepresentation: raw)
            #expect(!key.isPrimeOrderPoint)
            #expect(!key.isValidSignature(signature, for: message))
        }
        #expect(signer.verifyingKey.isPrimeOrderPoint)
    }

    @Test("The description is lowercase hex")
    func description() throws {
        let raw = hex("D75A980182B10AB7D54BFED3C964073A0EE172F3DAA62325AF021A68F707511A")
        let key = try Ed25519.VerifyingKey(rawRepresentation: raw)
        #expect(key.description == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    }
}

@Suite("Ed25519 to X25519")
struct Ed25519AgreementTests {
    @Test("The derived X25519 key pair matches on both sides and agrees with a peer")
    func derivedKeysMatch() throws {
        var random = CountingRandom()
        let alice = Ed25519.SigningKey(using: &random)
        let bob = Ed25519.SigningKey(using: &random)
        #expect(try alice.verifyingKey.agreementKey() == alice.agreementKey.publicKey)
        let forward = try alice.agreementKey.sharedSecret(with: try bob.verifyingKey.agreementKey())
        let backward = try bob.agreementKey.sharedSecret(with: try alice.verifyingKey.agreementKey())
        let a = forward.withUnsafeBytes { Array($0) }
        let b = backward.withUnsafeBytes { Array($0) }
        #expect(a == b)
        #expect(a != [UInt8](repeating: 0, count: 32))
    }

    @Test("RFC 8032 TEST 1 maps to the X25519 key that libsodium's documented conversion gives")
    func knownAnswer() throws {
        // Seed of RFC 8032 §7.1 TEST 1. The expected X25519 public key is the Montgomery u = (1 + y)/(1 − y) of
        // the Edwards public key, computed independently with Python integers.
        let key = try Ed25519.SigningKey(seed: SecureBytes(copying: hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")))
        let montgomery = try key.verifyingKey.agreementKey()
        #expect(montgomery == key.agreementKey.publicKey)
        #expect(montgomery.rawRepresentation == hex(ed25519TestOneMontgomery))
    }
}

/// u = (1 + y) / (1 − y) mod 2^255 − 19 for the public key of RFC 8032 TEST 1, little-endian.
private let ed25519TestOneMontgomery = "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e"
