import SecAggCrypto

/// Noise's hash functions for BLAKE2b (§4.3, §12.8): HASH, HMAC-HASH (RFC 2104) and HKDF.
///
/// Secrets (chaining keys, Diffie–Hellman outputs, HMAC keys and outputs) stay in ``SecureBytes`` throughout:
/// HMAC builds its padded inputs in secure memory and hashes them with ``Blake2b/hash(secret:outputByteCount:)``.
enum NoiseHash {
    /// HASHLEN: BLAKE2b-512's digest length.
    static let hashLength = 64

    /// BLOCKLEN: BLAKE2b's block length, the HMAC padding length.
    static let blockLength = 128

    /// `HASH(data)`: BLAKE2b-512 of public data.
    static func hash(_ data: [UInt8]) -> [UInt8] {
        Blake2b.hash(data, outputByteCount: hashLength)
    }

    /// `HMAC-HASH(key, data)` (RFC 2104) with `data` written into secure memory by `writeData`.
    ///
    /// `H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ data))`, `K` being `key` padded with zeros to ``blockLength`` bytes.
    ///
    /// - Precondition: `key` has at most ``blockLength`` bytes (Noise's keys have ``hashLength``).
    static func hmac(
        key: SecureBytes, dataCount: Int, writeData: (UnsafeMutableRawBufferPointer) -> Void
    ) -> SecureBytes {
        precondition(key.count <= blockLength, "HMAC key longer than a BLAKE2b block")
        let inner = SecureBytes(count: blockLength + dataCount) { buffer in
            writePaddedKey(key, xoring: 0x36, into: buffer)
            writeData(UnsafeMutableRawBufferPointer(rebasing: buffer[blockLength...]))
        }
        let innerDigest = Blake2b.hash(secret: inner, outputByteCount: hashLength)
        let outer = SecureBytes(count: blockLength + hashLength) { buffer in
            writePaddedKey(key, xoring: 0x5c, into: buffer)
            innerDigest.withUnsafeBytes { digest in
                UnsafeMutableRawBufferPointer(rebasing: buffer[blockLength...]).copyMemory(from: digest)
            }
        }
        return Blake2b.hash(secret: outer, outputByteCount: hashLength)
    }

    /// Writes `(key ‖ zeros) ⊕ pad` into the first ``blockLength`` bytes of `buffer`.
    private static func writePaddedKey(_ key: SecureBytes, xoring pad: UInt8, into buffer: UnsafeMutableRawBufferPointer) {
        key.withUnsafeBytes { keyBytes in
            for index in 0..<blockLength {
                buffer[index] = (index < keyBytes.count ? keyBytes[index] : 0) ^ pad
            }
        }
    }

    /// `HKDF(chaining_key, input_key_material, 2)` (§4.3): two ``hashLength``-byte outputs.
    ///
    ///     temp_key = HMAC-HASH(chaining_key, input_key_material)
    ///     output1  = HMAC-HASH(temp_key, 0x01)
    ///     output2  = HMAC-HASH(temp_key, output1 ‖ 0x02)
    static func hkdf(
        chainingKey: SecureBytes, inputKeyMaterial: UnsafeRawBufferPointer
    ) -> (SecureBytes, SecureBytes) {
        let tempKey = hmac(key: chainingKey, dataCount: inputKeyMaterial.count) { buffer in
            buffer.copyMemory(from: inputKeyMaterial)
        }
        let output1 = hmac(key: tempKey, dataCount: 1) { buffer in
            buffer[0] = 0x01
        }
        let output2 = hmac(key: tempKey, dataCount: hashLength + 1) { buffer in
            output1.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<hashLength]).copyMemory(from: $0) }
            buffer[hashLength] = 0x02
        }
        return (output1, output2)
    }

    /// The first 32 bytes of a ``hashLength``-byte HKDF output, as a cipher key (§5.2: "If HASHLEN is 64, then
    /// truncates temp_k to 32 bytes").
    static func truncatedKey(_ output: SecureBytes) -> SymmetricKey {
        symmetricKey(
            SecureBytes(count: SymmetricKey.byteCount) { buffer in
                output.withUnsafeBytes { bytes in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<SymmetricKey.byteCount]))
                }
            })
    }
}

/// Noise's SymmetricState (§5.2): the chaining key, the handshake hash and the handshake's cipher state.
struct SymmetricState: Sendable {
    /// The cipher state keyed by the latest `MixKey`.
    private(set) var cipher = CipherState()

    /// `ck`, the chaining key (secret).
    private var chainingKey: SecureBytes

    /// `h`, the handshake hash (public: it is what both parties agree on and may sign).
    private(set) var handshakeHash: [UInt8]

    /// `InitializeSymmetric(protocol_name)`: `h` is the name padded with zeros to ``NoiseHash/hashLength`` bytes
    /// (or its hash if longer), `ck = h`, and the cipher state has no key.
    init(protocolName: String) {
        let name = Array(protocolName.utf8)
        if name.count <= NoiseHash.hashLength {
            handshakeHash = name + [UInt8](repeating: 0, count: NoiseHash.hashLength - name.count)
        } else {
            handshakeHash = NoiseHash.hash(name)
        }
        chainingKey = SecureBytes(copying: handshakeHash)
    }

    /// `MixKey(input_key_material)` with a Diffie–Hellman output: `ck, temp_k = HKDF(ck, ikm, 2)`, then the
    /// cipher state is keyed with the first 32 bytes of `temp_k` and nonce 0.
    mutating func mixKey(_ sharedSecret: SharedSecret) {
        let current = chainingKey
        let (nextChainingKey, tempKey) = sharedSecret.withUnsafeBytes { ikm in
            NoiseHash.hkdf(chainingKey: current, inputKeyMaterial: ikm)
        }
        chainingKey = nextChainingKey
        cipher = CipherState(key: NoiseHash.truncatedKey(tempKey))
    }

    /// `MixHash(data)`: `h = HASH(h ‖ data)`.
    mutating func mixHash(_ data: [UInt8]) {
        var hasher = Blake2b.Hasher(outputByteCount: NoiseHash.hashLength)
        hasher.update(handshakeHash)
        hasher.update(data)
        handshakeHash = hasher.finalize()
    }

    /// `EncryptAndHash(plaintext)`: encrypts with `h` as associated data (or passes through without a key),
    /// then mixes the result into `h`.
    mutating func encryptAndHash(_ plaintext: SecureBytes) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(associatedData: handshakeHash, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    /// `DecryptAndHash(ciphertext)`: decrypts with `h` as associated data (or passes through without a key),
    /// then mixes the ciphertext into `h`.
    ///
    /// - Throws: ``NoiseError/decryptionFailed`` if the tag does not verify.
    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> SecureBytes {
        let plaintext = try cipher.decrypt(associatedData: handshakeHash, ciphertext: ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// `Split()`: `temp_k1, temp_k2 = HKDF(ck, empty, 2)`, each truncated to 32 bytes; `c1` protects
    /// initiator→responder messages and `c2` the other direction.
    func split() -> (CipherState, CipherState) {
        let (tempKey1, tempKey2) = NoiseHash.hkdf(
            chainingKey: chainingKey, inputKeyMaterial: UnsafeRawBufferPointer(start: nil, count: 0))
        return (
            CipherState(key: NoiseHash.truncatedKey(tempKey1)),
            CipherState(key: NoiseHash.truncatedKey(tempKey2))
        )
    }
}
