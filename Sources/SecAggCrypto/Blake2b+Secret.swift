import CSodium

extension Blake2b {
    /// Unkeyed BLAKE2b of secret input, with the digest written straight into secure memory.
    ///
    /// The same function as ``Blake2b/hash(_:outputByteCount:)``, for inputs and outputs that are secrets
    /// (Noise's HMAC-BLAKE2b over chaining keys and Diffie–Hellman outputs): neither the input nor the digest
    /// ever sits in an ordinary array that would outlive the call unzeroed.
    ///
    /// - Precondition: `outputByteCount` is in 16...64.
    public static func hash(secret data: SecureBytes, outputByteCount: Int = 32) -> SecureBytes {
        checkOutputByteCount(outputByteCount)
        Sodium.initialize()
        return SecureBytes(count: outputByteCount) { digest in
            data.withUnsafeBytes { input in
                // Never fails with a valid output size and no key. SecureBytes always has storage, so the
                // input pointer is valid even for an empty input.
                _ = crypto_generichash(
                    digest.mutableBytePointer, digest.count,
                    input.bytePointer, UInt64(input.count),
                    nil, 0)
            }
        }
    }
}
