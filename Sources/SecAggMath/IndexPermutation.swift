import SecAggCrypto

/// A keyed pseudo-random permutation π of `0..<count`, evaluated and inverted at a single point in O(1)
/// (expected) after an O(2^(b/2)) set-up: a balanced 8-round Feistel network with cycle walking.
///
/// Protocol v2 labels the ring of its neighbour graph with it, so that each client finds its own ring position
/// and those of its neighbours without shuffling all n indices.
///
/// Definition (normative, see the protocol spec "Graph derivation"), for 1 ≤ count ≤ 2^30 and a 32-byte seed:
/// - b is the least even integer ≥ 2 with 2^b ≥ count; h = b / 2; mask = 2^h − 1.
/// - Round tables, r = 0...7: T_r[i] = w_i AND mask for i in 0..<2^h, where w_i is little-endian 32-bit word i of
///   the ChaCha20-IETF keystream (RFC 8439) with key = seed, nonce = u32le(r + 1) ‖ 8 zero bytes and block
///   counter 0. (Nonce 0 is left for other uses of the same seed, such as `PublicCoin`.)
/// - E on x in 0..<2^b: L = x >> h, R = x AND mask; for r = 0...7: (L, R) ← (R, L XOR T_r[R]); E(x) = (L << h) | R.
///   Its inverse D: L = y >> h, R = y AND mask; for r = 7 down to 0: (L, R) ← (R XOR T_r[L], L);
///   D(y) = (L << h) | R.
/// - π(x) for x < count: y = E(x); while y ≥ count: y = E(y). π⁻¹(y) for y < count: x = D(y); while x ≥ count:
///   x = D(x). (Cycle walking: E permutes 0..<2^b, so each walk comes back below count; since 2^b ≤ 4·count,
///   a walk takes at most 4 steps on average over the starting points.)
///
/// The eight tables are computed at initialisation and kept: 8 · 2^h entries of 2 bytes (16 KiB for
/// count ≤ 2^20, at most 512 KiB for count ≤ 2^30). The tables come from a public seed and are not secret.
public struct IndexPermutation: Sendable {
    /// The largest supported `count`, 2^30.
    public static let maximumCount = 1 << 30

    /// Feistel rounds.
    static let roundCount = 8

    /// The size of the permuted domain `0..<count`.
    public let count: Int

    /// h: bits in each Feistel half.
    private let halfBits: Int

    /// 2^h − 1.
    private let mask: UInt32

    /// The round tables, T_r at offset r · 2^h (entries are below 2^h ≤ 2^15, so 16 bits suffice).
    private let tables: [UInt16]

    /// Derives the permutation of `0..<count` keyed by `seed`.
    ///
    /// - Throws: ``PermutationError/invalidCount(_:)`` unless 1 ≤ `count` ≤ ``maximumCount``.
    public init(count: Int, seed: SymmetricKey) throws(PermutationError) {
        guard count >= 1, count <= Self.maximumCount else { throw .invalidCount(count) }
        var bits = 2
        while 1 << bits < count { bits += 2 }
        let halfBits = bits / 2
        let tableSize = 1 << halfBits
        let mask = UInt32(tableSize - 1)
        var tables = [UInt16]()
        tables.reserveCapacity(Self.roundCount * tableSize)
        for round in 0..<Self.roundCount {
            let roundNumber = UInt32(round + 1)
            var nonce = [UInt8](repeating: 0, count: ChaCha20.nonceByteCount)
            for byte in 0..<4 { nonce[byte] = UInt8(truncatingIfNeeded: roundNumber >> (8 * UInt32(byte))) }
            let stream = ChaCha20.keystream(key: seed, nonce: nonce, counter: 0, count: 4 * tableSize)
            for entry in 0..<tableSize {
                let offset = 4 * entry
                let word =
                    UInt32(stream[offset]) | UInt32(stream[offset + 1]) << 8 | UInt32(stream[offset + 2]) << 16
                    | UInt32(stream[offset + 3]) << 24
                tables.append(UInt16(word & mask))
            }
        }
        self.count = count
        self.halfBits = halfBits
        self.mask = mask
        self.tables = tables
    }

    /// π(x): the image of `x`.
    ///
    /// - Precondition: `0 <= x < count`.
    public func apply(_ x: Int) -> Int {
        precondition(x >= 0 && x < count, "IndexPermutation.apply: point outside 0..<count")
        let bound = UInt32(count)
        var y = encrypt(UInt32(x))
        while y >= bound { y = encrypt(y) }
        return Int(y)
    }

    /// π⁻¹(y): the point whose image is `y`.
    ///
    /// - Precondition: `0 <= y < count`.
    public func invert(_ y: Int) -> Int {
        precondition(y >= 0 && y < count, "IndexPermutation.invert: point outside 0..<count")
        let bound = UInt32(count)
        var x = decrypt(UInt32(y))
        while x >= bound { x = decrypt(x) }
        return Int(x)
    }

    /// One pass of the Feistel network E over `0..<2^b`.
    private func encrypt(_ value: UInt32) -> UInt32 {
        let shift = UInt32(halfBits)
        var left = value >> shift
        var right = value & mask
        tables.withUnsafeBufferPointer { table in
            for round in 0..<Self.roundCount {
                let next = left ^ UInt32(table[round << halfBits | Int(right)])
                left = right
                right = next
            }
        }
        return left << shift | right
    }

    /// The inverse pass D of ``encrypt(_:)``: the rounds backwards.
    private func decrypt(_ value: UInt32) -> UInt32 {
        let shift = UInt32(halfBits)
        var left = value >> shift
        var right = value & mask
        tables.withUnsafeBufferPointer { table in
            for round in stride(from: Self.roundCount - 1, through: 0, by: -1) {
                let previous = right ^ UInt32(table[round << halfBits | Int(left)])
                right = left
                left = previous
            }
        }
        return left << shift | right
    }
}

/// Why an ``IndexPermutation`` could not be built.
public enum PermutationError: Error, Equatable, Sendable {
    /// A domain size outside 1...2^30.
    case invalidCount(Int)
}
