import CSodium

/// X25519 Diffie–Hellman (RFC 7748), used to agree pairwise mask seeds and share-encryption keys.
/// Backed by libsodium's `crypto_scalarmult` and `crypto_scalarmult_base`.
public enum X25519 {
    /// Bytes in a private scalar, a public key and a shared secret.
    public static let keyByteCount = 32

    /// A private scalar, zeroed on release.
    public struct PrivateKey: Sendable {
        /// The 32 scalar bytes exactly as given or drawn (unclamped; clamping happens inside every scalar
        /// multiplication). This is what gets Shamir-shared so that a dropped client's masks can be removed.
        public let rawRepresentation: SecureBytes

        /// The matching public key.
        public let publicKey: PublicKey

        /// Draws a fresh private key: 32 bytes from `random`.
        public init(using random: inout some RandomSource) {
            self.init(validRawRepresentation: SecureBytes(randomCount: X25519.keyByteCount, using: &random))
        }

        /// Restores a private key from its 32 scalar bytes (for example after Shamir reconstruction).
        ///
        /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless 32 bytes are given.
        public init(rawRepresentation: SecureBytes) throws(CryptoError) {
            try CryptoError.checkLength(
                "X25519 private key", expected: X25519.keyByteCount, actual: rawRepresentation.count)
            self.init(validRawRepresentation: rawRepresentation)
        }

        private init(validRawRepresentation scalar: SecureBytes) {
            Sodium.initialize()
            var publicBytes = [UInt8](repeating: 0, count: X25519.keyByteCount)
            let status = scalar.withUnsafeBytes { scalarBytes in
                crypto_scalarmult_base(&publicBytes, scalarBytes.bytePointer)
            }
            // A clamped scalar is a non-zero multiple of the cofactor below 2^255, so the base-point product is
            // never the identity; libsodium's only failure path cannot be reached.
            precondition(status == 0, "crypto_scalarmult_base failed")
            rawRepresentation = scalar
            publicKey = PublicKey(validRawRepresentation: publicBytes)
        }

        /// Computes the Diffie–Hellman value with `peer` (`crypto_scalarmult`).
        ///
        /// The result is raw curve output; derive keys from it with ``SharedSecret/deriveKey(label:context:)``.
        ///
        /// - Throws: ``CryptoError/weakPublicKey`` if the result is all zeros, i.e. `peer` is a low-order
        ///   point that would make the secret predictable.
        public func sharedSecret(with peer: PublicKey) throws(CryptoError) -> SharedSecret {
            Sodium.initialize()
            var failed = false
            let secret = SecureBytes(count: X25519.keyByteCount) { output in
                rawRepresentation.withUnsafeBytes { scalar in
                    let status = crypto_scalarmult(
                        output.mutableBytePointer, scalar.bytePointer, peer.rawRepresentation)
                    failed = status != 0 || sodium_is_zero(output.mutableBytePointer, output.count) == 1
                }
            }
            guard !failed else { throw .weakPublicKey }
            return SharedSecret(validBytes: secret)
        }
    }

    /// A public key: the u-coordinate of the public point.
    public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
        /// The 32-byte little-endian u-coordinate.
        public let rawRepresentation: [UInt8]

        /// Wraps an encoded public key. Any 32 bytes are accepted here; low-order points are rejected by
        /// ``PrivateKey/sharedSecret(with:)``.
        ///
        /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless 32 bytes are given.
        public init(rawRepresentation: [UInt8]) throws(CryptoError) {
            try CryptoError.checkLength(
                "X25519 public key", expected: X25519.keyByteCount, actual: rawRepresentation.count)
            self.rawRepresentation = rawRepresentation
        }

        init(validRawRepresentation: [UInt8]) {
            rawRepresentation = validRawRepresentation
        }

        /// The key as 64 lowercase hexadecimal digits.
        public var description: String { hexString(rawRepresentation) }
    }
}

extension X25519.PrivateKey: CustomStringConvertible {
    /// Names the public key only; the scalar is never printed.
    public var description: String { "X25519.PrivateKey(public: \(publicKey), secret redacted)" }
}

/// Raw Diffie–Hellman output.
///
/// Curve output is not uniformly random, so it cannot be used as a key until it has been derived with a label
/// and a context (``deriveKey(label:context:)``).
public struct SharedSecret: Sendable, CustomStringConvertible {
    private let bytes: SecureBytes

    init(validBytes: SecureBytes) {
        bytes = validBytes
    }

    /// Derives a 32-byte key bound to `label` and `context`; equal to
    /// `KDF.deriveKey(label: label, from: <the 32 raw bytes>, context: context)`.
    public func deriveKey(label: String, context: [UInt8]) -> SymmetricKey {
        KDF.deriveKey(label: label, from: bytes, context: context)
    }

    /// Calls `body` with the 32 raw bytes (for tests and for protocols such as Noise that hash them directly).
    /// Do not let the pointer escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    /// Never reveals the secret.
    public var description: String { "SharedSecret(redacted)" }
}

/// A 32-byte symmetric key (AEAD key, ChaCha20 key, mask seed), zeroed on release.
public struct SymmetricKey: Sendable, CustomStringConvertible {
    /// Bytes in a key.
    public static let byteCount = 32

    /// The key material.
    public let bytes: SecureBytes

    /// Wraps existing key material.
    ///
    /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless `bytes` has 32 bytes.
    public init(_ bytes: SecureBytes) throws(CryptoError) {
        try CryptoError.checkLength("symmetric key", expected: SymmetricKey.byteCount, actual: bytes.count)
        self.bytes = bytes
    }

    /// Draws a fresh key: 32 bytes from `random`.
    public init(using random: inout some RandomSource) {
        bytes = SecureBytes(randomCount: SymmetricKey.byteCount, using: &random)
    }

    init(validBytes: SecureBytes) {
        bytes = validBytes
    }

    /// Never reveals the key.
    public var description: String { "SymmetricKey(redacted)" }
}
