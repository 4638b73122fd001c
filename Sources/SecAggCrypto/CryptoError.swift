/// Errors raised by the crypto layer.
///
/// Every case describes bad input handed to a primitive (a wrong-length key, a forged ciphertext, a malicious
/// public key); none describes an internal failure. Callers in the protocol layer decide whose fault it is.
public enum CryptoError: Error, Equatable, Sendable {
    /// A key, nonce, signature or seed had the wrong number of bytes.
    ///
    /// - Parameters:
    ///   - what: A short name of the rejected value, e.g. `"Ed25519 signature"`.
    ///   - expected: The required byte count.
    ///   - actual: The byte count received.
    case invalidLength(what: String, expected: Int, actual: Int)

    /// AEAD decryption failed: the ciphertext, tag, associated data, nonce or key does not match.
    case authenticationFailed

    /// X25519 produced the all-zero shared secret: the peer's public key is a low-order point.
    case weakPublicKey

    /// A public key is not a valid curve point (for Ed25519: non-canonical, of small order or outside the
    /// prime-order subgroup).
    case invalidPublicKey
}

extension CryptoError {
    /// Throws ``invalidLength(what:expected:actual:)`` unless `actual == expected`.
    static func checkLength(_ what: String, expected: Int, actual: Int) throws(CryptoError) {
        guard actual == expected else {
            throw .invalidLength(what: what, expected: expected, actual: actual)
        }
    }
}
