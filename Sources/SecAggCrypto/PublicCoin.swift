/// Deterministic public randomness that every party reproduces from a public seed.
///
/// The byte stream is the ChaCha20-IETF keystream with key `seed`, a nonce of 12 zero bytes and the block counter
/// starting at 0, consumed strictly in order: calls may split it arbitrarily (`fill(5)` then `fill(3)` gives the
/// same bytes as `fill(8)`). The protocol uses it for public derivations such as the neighbour-graph
/// permutation. It is not a source of secrets: anyone holding the seed can replay it.
public struct PublicCoin: RandomSource, Sendable {
    /// The public seed, used as the ChaCha20 key.
    private let seed: [UInt8]

    /// The current 64-byte keystream block.
    private var block: [UInt8]

    /// How many bytes of `block` are already consumed (64 means none is left).
    private var blockOffset: Int

    /// The counter of the next block to generate.
    private var nextCounter: UInt64 = 0

    /// Starts the stream for `seed`.
    ///
    /// - Throws: ``CryptoError/invalidLength(what:expected:actual:)`` unless `seed` has 32 bytes.
    public init(seed: [UInt8]) throws(CryptoError) {
        try CryptoError.checkLength("public coin seed", expected: SymmetricKey.byteCount, actual: seed.count)
        self.seed = seed
        block = Array(repeating: 0, count: ChaCha20.blockByteCount)
        blockOffset = ChaCha20.blockByteCount
    }

    /// Writes the next `buffer.count` bytes of the stream into `buffer`.
    ///
    /// - Precondition: the stream (2^32 blocks, 256 GiB) is not exhausted.
    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var written = 0
        // Finish the buffered block first.
        let buffered = min(ChaCha20.blockByteCount - blockOffset, buffer.count)
        if buffered > 0 {
            block.withUnsafeBytes { blockBytes in
                buffer.baseAddress!.copyMemory(from: blockBytes.baseAddress! + blockOffset, byteCount: buffered)
            }
            blockOffset += buffered
            written = buffered
        }
        // Whole blocks go straight into the caller's buffer.
        let wholeBytes = (buffer.count - written) / ChaCha20.blockByteCount * ChaCha20.blockByteCount
        if wholeBytes > 0 {
            Self.generate(
                seed: seed, counter: &nextCounter,
                into: UnsafeMutableRawBufferPointer(rebasing: buffer[written..<(written + wholeBytes)]))
            written += wholeBytes
        }
        // A tail shorter than a block comes from a freshly buffered block.
        let tail = buffer.count - written
        if tail > 0 {
            block.withUnsafeMutableBytes { Self.generate(seed: seed, counter: &nextCounter, into: $0) }
            block.withUnsafeBytes { blockBytes in
                (buffer.baseAddress! + written).copyMemory(from: blockBytes.baseAddress!, byteCount: tail)
            }
            blockOffset = tail
        }
    }

    /// Fills `output` (a whole number of blocks) with the keystream blocks from `counter` on and advances it.
    private static func generate(
        seed: [UInt8], counter nextCounter: inout UInt64, into output: UnsafeMutableRawBufferPointer
    ) {
        let blockCount = UInt64(output.count / ChaCha20.blockByteCount)
        precondition(nextCounter + blockCount <= 1 << 32, "PublicCoin stream exhausted (2^32 blocks)")
        let counter = UInt32(nextCounter)
        seed.withUnsafeBytes { key in
            ChaCha20.zeroNonce.withUnsafeBytes { nonceBytes in
                ChaCha20.fillKeystream(
                    key: key.bytePointer, nonce: nonceBytes.bytePointer, counter: counter, into: output)
            }
        }
        nextCounter += blockCount
    }
}
