import CSodium

/// ChaCha20-Poly1305 AEAD, IETF variant (RFC 8439 §2.8; `crypto_aead_chacha20poly1305_ietf_*`): encrypts
/// Shamir shares between clients and protects Noise transport messages.
///
/// A (key, nonce) pair must never encrypt two different messages; callers derive a fresh key per
/// sender/recipient/session or use a counter nonce.
public enum ChaChaPoly {
    /// Bytes in a nonce.
    public static let nonceByteCount = 12

    /// Bytes in the authentication tag appended to every ciphertext.
    public static let tagByteCount = 16

    /// Encrypts `plaintext` and authenticates it together with `associatedData`.
    ///
    /// - Returns: ciphertext ‖ tag (`plaintext.count + 16` bytes).
    /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless `nonce` has 12 bytes.
    public static func seal(
        _ plaintext: SecureBytes, using key: SymmetricKey, nonce: [UInt8], authenticating associatedData: [UInt8]
    ) throws(CryptoError) -> [UInt8] {
        try CryptoError.checkLength("ChaChaPoly nonce", expected: nonceByteCount, actual: nonce.count)
        Sodium.initialize()
        var sealed = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var sealedCount: UInt64 = 0
        plaintext.withUnsafeBytes { message in
            key.bytes.withUnsafeBytes { keyBytes in
                // Never fails: the only error path is a message longer than libsodium's limit (~256 GiB).
                _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                    &sealed, &sealedCount,
                    message.bytePointer, UInt64(message.count),
                    associatedData, UInt64(associatedData.count),
                    nil, nonce, keyBytes.bytePointer)
            }
        }
        return sealed
    }

    /// Verifies and decrypts the output of ``seal(_:using:nonce:authenticating:)``.
    ///
    /// Nothing is released unless the tag verifies; the tag comparison is constant-time.
    ///
    /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless `nonce` has 12 bytes;
    ///   ``CryptoError/authenticationFailed`` if `sealed` is shorter than a tag or was not produced under this
    ///   key, nonce and associated data.
    public static func open(
        _ sealed: [UInt8], using key: SymmetricKey, nonce: [UInt8], authenticating associatedData: [UInt8]
    ) throws(CryptoError) -> SecureBytes {
        try CryptoError.checkLength("ChaChaPoly nonce", expected: nonceByteCount, actual: nonce.count)
        guard sealed.count >= tagByteCount else { throw .authenticationFailed }
        Sodium.initialize()
        var status: Int32 = -1
        let plaintext = SecureBytes(count: sealed.count - tagByteCount) { output in
            var outputCount: UInt64 = 0
            key.bytes.withUnsafeBytes { keyBytes in
                status = crypto_aead_chacha20poly1305_ietf_decrypt(
                    output.mutableBytePointer, &outputCount, nil,
                    sealed, UInt64(sealed.count),
                    associatedData, UInt64(associatedData.count),
                    nonce, keyBytes.bytePointer)
            }
        }
        guard status == 0 else { throw .authenticationFailed }
        return plaintext
    }
}
