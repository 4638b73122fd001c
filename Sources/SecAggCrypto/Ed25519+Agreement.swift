import CSodium

// One long-term key per party: the Noise static key (X25519) is derived from the Ed25519 identity with the
// birational map from the Edwards to the Montgomery form of Curve25519 (libsodium's
// crypto_sign_ed25519_{sk,pk}_to_curve25519). A peer that knows an Ed25519 identity therefore knows which X25519
// static key to expect, and one identity file serves both signing and the transport handshake.

extension Ed25519.SigningKey {
    /// The X25519 private key derived from this identity: the clamped first half of SHA-512(seed), as used by
    /// Ed25519 itself (`crypto_sign_ed25519_sk_to_curve25519`).
    public var agreementKey: X25519.PrivateKey {
        Sodium.initialize()
        let scalar = SecureBytes(count: X25519.keyByteCount) { output in
            expanded.withUnsafeBytes { secretKey in
                // Never fails: the input is a well-formed libsodium secret key.
                _ = crypto_sign_ed25519_sk_to_curve25519(output.mutableBytePointer, secretKey.bytePointer)
            }
        }
        guard let key = try? X25519.PrivateKey(rawRepresentation: scalar) else {
            preconditionFailure("a 32-byte scalar is a valid X25519 private key")
        }
        return key
    }
}

extension Ed25519.VerifyingKey {
    /// The X25519 public key of the same identity (`crypto_sign_ed25519_pk_to_curve25519`); it equals
    /// `agreementKey.publicKey` of the matching signing key.
    ///
    /// - Throws: ``CryptoError/invalidPublicKey`` if the key is not a valid Edwards point.
    public func agreementKey() throws(CryptoError) -> X25519.PublicKey {
        Sodium.initialize()
        var montgomery = [UInt8](repeating: 0, count: X25519.keyByteCount)
        guard crypto_sign_ed25519_pk_to_curve25519(&montgomery, rawRepresentation) == 0 else {
            throw .invalidPublicKey
        }
        return try X25519.PublicKey(rawRepresentation: montgomery)
    }
}
