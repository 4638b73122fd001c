import SecAggCrypto

/// Noise's CipherState (§5.1) over ChaChaPoly: an optional 32-byte key and a 64-bit message counter.
///
/// Internal: callers reach cipher states only through ``NoiseHandshake`` and ``NoiseTransport``, which keep
/// them from being copied into two places that would reuse a nonce.
struct CipherState: Sendable {
    /// The nonce value Noise reserves (§5.1); reaching it means the key is used up.
    static let reservedNonce = UInt64.max

    /// The cipher key; `nil` until the first `MixKey` of a handshake ("empty" in the specification).
    private(set) var key: SymmetricKey?

    /// The nonce of the next encryption or decryption.
    private(set) var nonce: UInt64 = 0

    /// An empty cipher state (no key), which passes plaintext through unchanged.
    init() {}

    /// `InitializeKey(key)`: a keyed cipher state with nonce 0.
    init(key: SymmetricKey) {
        self.key = key
    }

    /// `HasKey()`.
    var hasKey: Bool { key != nil }

    /// `SetNonce(n)`; for tests of nonce exhaustion.
    mutating func setNonce(_ value: UInt64) {
        nonce = value
    }

    /// ChaChaPoly's nonce encoding (§12.3): 32 bits of zeros, then `counter` as a 64-bit little-endian integer.
    static func nonceBytes(_ counter: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: ChaChaPoly.nonceByteCount)
        for index in 0..<8 {
            bytes[4 + index] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(index)))
        }
        return bytes
    }

    /// `EncryptWithAd(ad, plaintext)`: ciphertext ‖ tag under the current nonce, which then advances; without a
    /// key, the plaintext itself.
    ///
    /// - Throws: ``NoiseError/nonceExhausted`` if the nonce has reached 2^64 − 1 (nothing is encrypted).
    mutating func encrypt(associatedData: [UInt8], plaintext: SecureBytes) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext.unsafeCopyToArray() }
        guard nonce != Self.reservedNonce else { throw .nonceExhausted }
        let ciphertext: [UInt8]
        do {
            ciphertext = try ChaChaPoly.seal(
                plaintext, using: key, nonce: Self.nonceBytes(nonce), authenticating: associatedData)
        } catch {
            // `seal` only rejects a nonce that is not 12 bytes long, and `nonceBytes` always returns 12 bytes.
            preconditionFailure("ChaChaPoly.seal rejected a 12-byte nonce")
        }
        nonce += 1
        return ciphertext
    }

    /// `DecryptWithAd(ad, ciphertext)`: the verified plaintext, after which the nonce advances; without a key,
    /// the input itself. On failure the nonce does not advance.
    ///
    /// - Throws: ``NoiseError/nonceExhausted`` if the nonce has reached 2^64 − 1;
    ///   ``NoiseError/decryptionFailed`` if the tag does not verify (including inputs shorter than a tag).
    mutating func decrypt(associatedData: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> SecureBytes {
        guard let key else { return SecureBytes(copying: ciphertext) }
        guard nonce != Self.reservedNonce else { throw .nonceExhausted }
        let plaintext: SecureBytes
        do {
            plaintext = try ChaChaPoly.open(
                ciphertext, using: key, nonce: Self.nonceBytes(nonce), authenticating: associatedData)
        } catch {
            throw .decryptionFailed
        }
        nonce += 1
        return plaintext
    }

    /// `Rekey()` (§5.1, §11.2): replaces the key with `REKEY(k)`, the first 32 bytes of
    /// `ENCRYPT(k, 2^64 − 1, empty, 32 zero bytes)`; the nonce is unchanged. Does nothing without a key.
    ///
    /// ChaChaPoly encrypts by XORing the ChaCha20 keystream from block 1 on (block 0 keys Poly1305, RFC 8439
    /// §2.8), so those 32 bytes are exactly the keystream at counter 1, generated here straight into secure
    /// memory instead of through an ordinary ciphertext array.
    mutating func rekey() {
        guard let key else { return }
        let nonceBytes = Self.nonceBytes(Self.reservedNonce)
        let newKey = SecureBytes(count: SymmetricKey.byteCount) { buffer in
            ChaCha20.fillKeystream(key: key, nonce: nonceBytes, counter: 1, into: buffer)
        }
        self.key = symmetricKey(newKey)
    }
}

/// Wraps 32 bytes produced by this module as a key.
func symmetricKey(_ bytes: SecureBytes) -> SymmetricKey {
    do {
        return try SymmetricKey(bytes)
    } catch {
        // Every caller passes exactly 32 bytes.
        preconditionFailure("Noise derived a cipher key that is not 32 bytes long")
    }
}
