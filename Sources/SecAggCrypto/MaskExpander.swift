import CSodium

/// The mask PRG of the protocol, applied in place.
///
/// Lane `i` of the mask expanded from `seed` is little-endian word `i` (4 bytes for `UInt32` lanes, 8 bytes for
/// `UInt64` lanes) of the ChaCha20-IETF keystream with key `seed`, a nonce of 12 zero bytes and the block counter
/// starting at 0, reduced modulo 2^bits (ANDed with 2^bits − 1). `apply(seed:to:bits:direction:)` adds the mask
/// to, or subtracts it from, each lane modulo 2^bits and leaves every lane below 2^bits.
///
/// The keystream is produced in fixed 4 KiB chunks into one reusable buffer (zeroed afterwards) and folded into
/// the lanes by a branch-free loop the optimiser vectorises, so a mask vector is never materialised and the
/// cost stays close to that of the raw keystream. (4 KiB measured best: small enough that the hardware
/// prefetcher brings the next lanes in while ChaCha20 runs, large enough to amortise each libsodium call.)
///
/// Seeds must be unique per round (the protocol derives them from the session id): reusing a mask on two
/// inputs reveals their difference.
public enum MaskExpander {
    /// Whether the mask is added (masking, or a positive pairwise mask) or subtracted (unmasking, or a
    /// negative pairwise mask).
    public enum Direction: Sendable {
        /// lane ← (lane + mask) mod 2^bits.
        case add
        /// lane ← (lane − mask) mod 2^bits.
        case subtract
    }

    /// Bytes of keystream generated per chunk; a multiple of the ChaCha20 block size and of both lane widths.
    static let chunkByteCount = 4 * 1024

    /// Adds or subtracts the mask expanded from `seed` to 32-bit `lanes`, modulo 2^bits.
    ///
    /// - Precondition: `bits` is in 1...32, and `lanes.count * 4` bytes of keystream fit below the 2^32 block
    ///   counter limit (256 GiB).
    public static func apply(
        seed: SymmetricKey, to lanes: UnsafeMutableBufferPointer<UInt32>, bits: Int, direction: Direction
    ) {
        precondition((1...32).contains(bits), "MaskExpander: bits must be in 1...32 for UInt32 lanes")
        let mask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) &- 1
        expand(seed: seed, lanes: lanes, mask: mask, direction: direction)
    }

    /// Adds or subtracts the mask expanded from `seed` to 64-bit `lanes`, modulo 2^bits.
    ///
    /// - Precondition: `bits` is in 1...64, and `lanes.count * 8` bytes of keystream fit below the 2^32 block
    ///   counter limit (256 GiB).
    public static func apply(
        seed: SymmetricKey, to lanes: UnsafeMutableBufferPointer<UInt64>, bits: Int, direction: Direction
    ) {
        precondition((1...64).contains(bits), "MaskExpander: bits must be in 1...64 for UInt64 lanes")
        let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) &- 1
        expand(seed: seed, lanes: lanes, mask: mask, direction: direction)
    }

    /// The chunked loop shared by both lane widths (specialised per width by the optimiser).
    @inline(__always)
    private static func expand<Lane: FixedWidthInteger & UnsignedInteger>(
        seed: SymmetricKey, lanes: UnsafeMutableBufferPointer<Lane>, mask: Lane, direction: Direction
    ) {
        guard let laneBase = lanes.baseAddress, lanes.count > 0 else { return }
        let laneByteCount = MemoryLayout<Lane>.size
        let (totalBytes, overflow) = lanes.count.multipliedReportingOverflow(by: laneByteCount)
        precondition(
            !overflow && UInt64(totalBytes) <= UInt64(ChaCha20.blockByteCount) << 32,
            "MaskExpander: too many lanes for one ChaCha20 keystream")

        let lanesPerChunk = chunkByteCount / laneByteCount
        let blocksPerChunk = chunkByteCount / ChaCha20.blockByteCount
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkByteCount, alignment: 64)
        defer {
            sodium_memzero(chunk.baseAddress, chunk.count)
            chunk.deallocate()
        }
        seed.bytes.withUnsafeBytes { key in
            ChaCha20.zeroNonce.withUnsafeBytes { nonce in
                var laneIndex = 0
                var counter: UInt32 = 0
                while laneIndex < lanes.count {
                    let laneCount = min(lanesPerChunk, lanes.count - laneIndex)
                    let keystream = UnsafeMutableRawBufferPointer(
                        rebasing: chunk[0..<(laneCount * laneByteCount)])
                    ChaCha20.fillKeystream(
                        key: key.bytePointer, nonce: nonce.bytePointer, counter: counter, into: keystream)
                    let words = UnsafePointer(chunk.baseAddress!.assumingMemoryBound(to: Lane.self))
                    fold(words, into: laneBase + laneIndex, count: laneCount, mask: mask, direction: direction)
                    laneIndex += laneCount
                    // Wraps to 0 only after the final chunk of a maximal (256 GiB) mask, when it is no longer used.
                    counter &+= UInt32(blocksPerChunk)
                }
            }
        }
    }

    /// lane ← (lane ± UInt(littleEndian: word)) & mask for `count` lanes; two separate loops so each is
    /// branch-free and vectorisable.
    @inline(__always)
    private static func fold<Lane: FixedWidthInteger & UnsignedInteger>(
        _ words: UnsafePointer<Lane>, into lanes: UnsafeMutablePointer<Lane>, count: Int, mask: Lane,
        direction: Direction
    ) {
        switch direction {
        case .add:
            for index in 0..<count {
                lanes[index] = (lanes[index] &+ Lane(littleEndian: words[index])) & mask
            }
        case .subtract:
            for index in 0..<count {
                lanes[index] = (lanes[index] &- Lane(littleEndian: words[index])) & mask
            }
        }
    }
}
