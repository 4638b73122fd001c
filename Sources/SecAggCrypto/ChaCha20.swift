import CSodium

/// The ChaCha20 stream cipher, IETF variant (RFC 8439 §2.4): 32-byte key, 12-byte nonce, 32-bit block counter.
///
/// Exposed as a keystream generator: it is the PRG behind ``MaskExpander`` and ``PublicCoin``.
public enum ChaCha20 {
    /// Bytes in a nonce.
    public static let nonceByteCount = 12

    /// Bytes in one keystream block; the counter advances once per block.
    public static let blockByteCount = 64

    /// The all-zero nonce used by the protocol's PRGs (each seed keys exactly one stream).
    static let zeroNonce = [UInt8](repeating: 0, count: nonceByteCount)

    /// Returns `count` keystream bytes starting at block `counter`.
    ///
    /// - Precondition: `nonce` has 12 bytes, `count >= 0`, and the keystream does not run past block 2^32 − 1.
    public static func keystream(key: SymmetricKey, nonce: [UInt8], counter: UInt32, count: Int) -> [UInt8] {
        precondition(count >= 0, "ChaCha20 keystream length must not be negative")
        var output = [UInt8](repeating: 0, count: count)
        output.withUnsafeMutableBytes { buffer in
            fillKeystream(key: key, nonce: nonce, counter: counter, into: buffer)
        }
        return output
    }

    /// Overwrites `buffer` with keystream starting at block `counter`, without allocating.
    ///
    /// - Precondition: `nonce` has 12 bytes and the keystream does not run past block 2^32 − 1.
    public static func fillKeystream(
        key: SymmetricKey, nonce: [UInt8], counter: UInt32, into buffer: UnsafeMutableRawBufferPointer
    ) {
        precondition(nonce.count == nonceByteCount, "ChaCha20 nonce must have 12 bytes")
        key.bytes.withUnsafeBytes { keyBytes in
            nonce.withUnsafeBytes { nonceBytes in
                fillKeystream(key: keyBytes.bytePointer, nonce: nonceBytes.bytePointer, counter: counter, into: buffer)
            }
        }
    }

    /// The unchecked core: `key` points at 32 bytes and `nonce` at 12.
    ///
    /// - Precondition: the keystream does not run past block 2^32 − 1 (libsodium aborts the process otherwise).
    @inline(__always)
    static func fillKeystream(
        key: UnsafePointer<UInt8>, nonce: UnsafePointer<UInt8>, counter: UInt32,
        into buffer: UnsafeMutableRawBufferPointer
    ) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        let blockCount = (UInt64(buffer.count) + UInt64(blockByteCount) - 1) / UInt64(blockByteCount)
        precondition(
            UInt64(counter) + blockCount <= 1 << 32, "ChaCha20 block counter would wrap past 2^32 − 1")
        Sodium.initialize()
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        // Encrypting zeros yields the keystream (libsodium's keystream-only call takes no counter). Reading them
        // from a constant buffer instead of zeroing the output first saves a write pass over every keystream byte
        // (2.5 % of a Flower-workload round's CPU). Never fails once the counter range is checked.
        zeros.withUnsafeBufferPointer { zero in
            var offset = 0
            var blockCounter = counter
            while offset < buffer.count {
                let length = min(zero.count, buffer.count - offset)
                _ = crypto_stream_chacha20_ietf_xor_ic(
                    bytes + offset, zero.baseAddress!, UInt64(length), nonce, blockCounter, key)
                offset += length
                blockCounter &+= UInt32(length / blockByteCount)
            }
        }
    }

    /// 4 KiB of zeros, a whole number of blocks (see ``fillKeystream(key:nonce:counter:into:)-(UnsafePointer<UInt8>,_,_,_)``).
    private static let zeros = [UInt8](repeating: 0, count: 4096)
}
