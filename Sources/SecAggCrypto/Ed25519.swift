import CSodium

/// Ed25519 signatures (RFC 8032, pure variant), used for long-term identities and for signing round
/// transcripts. Backed by libsodium's `crypto_sign_*`.
public enum Ed25519 {
    /// Bytes in a signing-key seed (the RFC 8032 "secret key").
    public static let seedByteCount = 32

    /// Bytes in an encoded public key.
    public static let publicKeyByteCount = 32

    /// Bytes in a signature.
    public static let signatureByteCount = 64

    /// A private signing key, kept as its 32-byte seed plus libsodium's expanded form, both zeroed on release.
    public struct SigningKey: Sendable {
        /// The RFC 8032 secret key.
        public let seed: SecureBytes

        /// The matching public key.
        public let verifyingKey: VerifyingKey

        /// libsodium's 64-byte secret key (seed ‖ public key).
        let expanded: SecureBytes

        /// Derives the key pair from a 32-byte seed (`crypto_sign_seed_keypair`), so identities can be stored
        /// as seeds and restored deterministically.
        ///
        /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless `seed` has 32 bytes.
        public init(seed: SecureBytes) throws(CryptoError) {
            try CryptoError.checkLength("Ed25519 seed", expected: Ed25519.seedByteCount, actual: seed.count)
            self.init(validSeed: seed)
        }

        /// Creates a fresh key pair from 32 bytes of `random`.
        public init(using random: inout some RandomSource) {
            self.init(validSeed: SecureBytes(randomCount: Ed25519.seedByteCount, using: &random))
        }

        private init(validSeed: SecureBytes) {
            Sodium.initialize()
            var publicKey = [UInt8](repeating: 0, count: Ed25519.publicKeyByteCount)
            let expanded = SecureBytes(count: Int(crypto_sign_SECRETKEYBYTES)) { secretKey in
                validSeed.withUnsafeBytes { seedBytes in
                    // Never fails for a 32-byte seed.
                    _ = crypto_sign_seed_keypair(&publicKey, secretKey.mutableBytePointer, seedBytes.bytePointer)
                }
            }
            self.seed = validSeed
            self.expanded = expanded
            self.verifyingKey = VerifyingKey(validRawRepresentation: publicKey)
        }

        /// Signs `message` (`crypto_sign_detached`). Deterministic: the same key and message give the same
        /// signature.
        public func signature(for message: [UInt8]) -> Signature {
            Sodium.initialize()
            var signature = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
            expanded.withUnsafeBytes { secretKey in
                // Never fails: the only error path in libsodium is a length overflow.
                _ = crypto_sign_detached(
                    &signature, nil, message, UInt64(message.count), secretKey.bytePointer)
            }
            return Signature(validRawRepresentation: signature)
        }
    }

    /// A public verification key.
    public struct VerifyingKey: Sendable, Hashable, CustomStringConvertible {
        /// The 32-byte RFC 8032 encoding.
        public let rawRepresentation: [UInt8]

        /// Wraps a 32-byte public key.
        ///
        /// Construction checks the length only, so that parsing the many keys a round relays stays cheap.
        /// Verification (``isValidSignature(_:for:)``) rejects non-canonical and small-order keys, so such a key
        /// verifies nothing. Where a key is admitted for the long term (enrollment, configuration), also check
        /// ``isPrimeOrderPoint``.
        ///
        /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless 32 bytes are given.
        public init(rawRepresentation: [UInt8]) throws(CryptoError) {
            try CryptoError.checkLength(
                "Ed25519 public key", expected: Ed25519.publicKeyByteCount, actual: rawRepresentation.count)
            self.rawRepresentation = rawRepresentation
        }

        /// True if the key is the canonical encoding of a point of the prime-order subgroup, not of small order
        /// (`crypto_core_ed25519_is_valid_point`; costs about one scalar multiplication). Every honestly generated
        /// key passes.
        public var isPrimeOrderPoint: Bool {
            Sodium.initialize()
            return crypto_core_ed25519_is_valid_point(rawRepresentation) == 1
        }

        init(validRawRepresentation: [UInt8]) {
            rawRepresentation = validRawRepresentation
        }

        /// Whether `signature` is a valid signature of `message` under this key (`crypto_sign_verify_detached`,
        /// which rejects non-canonical signatures and small-order commitments).
        public func isValidSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
            Sodium.initialize()
            return crypto_sign_verify_detached(
                signature.rawRepresentation, message, UInt64(message.count), rawRepresentation) == 0
        }

        /// The key as 64 lowercase hexadecimal digits.
        public var description: String { hexString(rawRepresentation) }
    }

    /// A detached signature.
    public struct Signature: Sendable, Hashable {
        /// The 64-byte encoding R ‖ S.
        public let rawRepresentation: [UInt8]

        /// Wraps an encoded signature. Its validity is only checked by ``VerifyingKey/isValidSignature(_:for:)``.
        ///
        /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless 64 bytes are given.
        public init(rawRepresentation: [UInt8]) throws(CryptoError) {
            try CryptoError.checkLength(
                "Ed25519 signature", expected: Ed25519.signatureByteCount, actual: rawRepresentation.count)
            self.rawRepresentation = rawRepresentation
        }

        init(validRawRepresentation: [UInt8]) {
            rawRepresentation = validRawRepresentation
        }
    }
}

extension Ed25519.SigningKey: CustomStringConvertible {
    /// Names the public key only; the secret is never printed.
    public var description: String { "Ed25519.SigningKey(public: \(verifyingKey), secret redacted)" }
}
