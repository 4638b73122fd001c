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
/// cost stays close to that of the raw keystream; several masks are applied chunk by chunk, in one pass. (4 KiB measured best: small enough that the hardware
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

    /// A mask to apply: its seed and whether it is added or subtracted.
    public typealias Mask = (seed: SymmetricKey, direction: Direction)

    /// Adds or subtracts the mask expanded from `seed` to 32-bit `lanes`, modulo 2^bits.
    ///
    /// - Precondition: `bits` is in 1...32, and `lanes.count * 4` bytes of keystream fit below the 2^32 block
    ///   counter limit (256 GiB).
    public static func apply(
        seed: SymmetricKey, to lanes: UnsafeMutableBufferPointer<UInt32>, bits: Int, direction: Direction
    ) {
        apply([(seed, direction)], to: lanes, bits: bits)
    }

    /// Adds or subtracts the mask expanded from `seed` to 64-bit `lanes`, modulo 2^bits.
    ///
    /// - Precondition: `bits` is in 1...64, and `lanes.count * 8` bytes of keystream fit below the 2^32 block
    ///   counter limit (256 GiB).
    public static func apply(
        seed: SymmetricKey, to lanes: UnsafeMutableBufferPointer<UInt64>, bits: Int, direction: Direction
    ) {
        apply([(seed, direction)], to: lanes, bits: bits)
    }

    /// Applies several masks to 32-bit `lanes`, modulo 2^bits: the same result as applying them one by one, but
    /// chunk by chunk — each 4 KiB of lanes takes every mask while it is in the L1 cache, instead of one pass over
    /// the whole vector per mask (a client applies k + 1 masks, the coordinator hundreds).
    ///
    /// - Precondition: as for ``apply(seed:to:bits:direction:)-(_,UnsafeMutableBufferPointer<UInt32>,_,_)``.
    public static func apply(_ masks: [Mask], to lanes: UnsafeMutableBufferPointer<UInt32>, bits: Int) {
        precondition((1...32).contains(bits), "MaskExpander: bits must be in 1...32 for UInt32 lanes")
        let mask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) &- 1
        expand(masks, lanes: lanes, mask: mask)
    }

    /// Applies several masks to 64-bit `lanes`, modulo 2^bits (see the 32-bit form).
    ///
    /// - Precondition: as for ``apply(seed:to:bits:direction:)-(_,UnsafeMutableBufferPointer<UInt64>,_,_)``.
    public static func apply(_ masks: [Mask], to lanes: UnsafeMutableBufferPointer<UInt64>, bits: Int) {
        precondition((1...64).contains(bits), "MaskExpander: bits must be in 1...64 for UInt64 lanes")
        let mask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) &- 1
        expand(masks, lanes: lanes, mask: mask)
    }

    /// The chunked loop shared by both lane widths (specialised per width by the optimiser): for each chunk of
    /// lanes, each mask's keystream for that chunk is generated into one reusable buffer and folded in. The keys
    /// are copied into one scratch buffer for the loop; it and the keystream buffer are zeroed afterwards.
    @inline(__always)
    private static func expand<Lane: FixedWidthInteger & UnsignedInteger>(
        _ masks: [Mask], lanes: UnsafeMutableBufferPointer<Lane>, mask: Lane
    ) {
        guard let laneBase = lanes.baseAddress, lanes.count > 0, !masks.isEmpty else { return }
        let laneByteCount = MemoryLayout<Lane>.size
        let (totalBytes, overflow) = lanes.count.multipliedReportingOverflow(by: laneByteCount)
        precondition(
            !overflow && UInt64(totalBytes) <= UInt64(ChaCha20.blockByteCount) << 32,
            "MaskExpander: too many lanes for one ChaCha20 keystream")

        let keyByteCount = SymmetricKey.byteCount
        let keys = UnsafeMutableRawBufferPointer.allocate(byteCount: masks.count * keyByteCount, alignment: 16)
        let lanesPerChunk = chunkByteCount / laneByteCount
        let blocksPerChunk = chunkByteCount / ChaCha20.blockByteCount
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkByteCount, alignment: 64)
        defer {
            sodium_memzero(chunk.baseAddress, chunk.count)
            chunk.deallocate()
            sodium_memzero(keys.baseAddress, keys.count)
            keys.deallocate()
        }
        for (position, entry) in masks.enumerated() {
            entry.seed.bytes.withUnsafeBytes { key in
                precondition(key.count == keyByteCount, "a symmetric key has 32 bytes")
                (keys.baseAddress! + position * keyByteCount).copyMemory(from: key.baseAddress!, byteCount: keyByteCount)
            }
        }
        let keyBase = keys.baseAddress!.assumingMemoryBound(to: UInt8.self)
        ChaCha20.zeroNonce.withUnsafeBytes { nonce in
            var laneIndex = 0
            var counter: UInt32 = 0
            while laneIndex < lanes.count {
                let laneCount = min(lanesPerChunk, lanes.count - laneIndex)
                let keystream = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<(laneCount * laneByteCount)])
                let words = UnsafePointer(chunk.baseAddress!.assumingMemoryBound(to: Lane.self))
                for (position, entry) in masks.enumerated() {
                    ChaCha20.fillKeystream(
                        key: keyBase + position * keyByteCount, nonce: nonce.bytePointer, counter: counter,
                        into: keystream)
                    fold(words, into: laneBase + laneIndex, count: laneCount, mask: mask, direction: entry.direction)
                }
                laneIndex += laneCount
                // Wraps to 0 only after the final chunk of a maximal (256 GiB) mask, when it is no longer used.
                counter &+= UInt32(blocksPerChunk)
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
