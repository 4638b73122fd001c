import SecAggCrypto

/// A stream of uniformly random bits drawn from a ``RandomSource`` in chunks: the only randomness of the exact
/// samplers.
///
/// The source fills a word buffer (little-endian 64-bit words, consumed in order); bits are taken from each word
/// least-significant first. Bits left over when a sampling call returns are discarded, never reused.
///
/// The samplers are written against this one concrete type, so the hot path is compiled once, fully optimised,
/// whatever `RandomSource` the caller holds; the source is only called (through `refill`) once per chunk.
struct RandomBits {
    /// Fills a buffer with random bytes from the caller's source.
    private let refill: (UnsafeMutableRawBufferPointer) -> Void

    /// The chunk of random words, refilled when exhausted.
    private let storage: UnsafeMutableBufferPointer<UInt64>

    /// Index of the next unread word of `storage`; `storage.count` means the chunk must be refilled.
    private var nextIndex: Int

    /// The unread bits of the current word, in its low `available` bits.
    private var word: UInt64 = 0

    /// How many bits of `word` are unread.
    private var available = 0

    /// A stream over `storage` (non-empty), refilled by `refill`.
    init(storage: UnsafeMutableBufferPointer<UInt64>, refill: @escaping (UnsafeMutableRawBufferPointer) -> Void) {
        precondition(!storage.isEmpty, "RandomBits needs room for at least one word")
        self.storage = storage
        self.refill = refill
        nextIndex = storage.count
    }

    /// The next 64 random bits, as a little-endian word of the source's stream.
    @inline(__always)
    private mutating func nextWord() -> UInt64 {
        if nextIndex == storage.count {
            refill(UnsafeMutableRawBufferPointer(storage))
            nextIndex = 0
        }
        let value = UInt64(littleEndian: storage[nextIndex])
        nextIndex += 1
        return value
    }

    /// One uniformly random bit.
    @inline(__always)
    mutating func bit() -> Bool {
        if available == 0 {
            word = nextWord()
            available = 64
        }
        let value = word & 1
        word &>>= 1
        available -= 1
        return value == 1
    }

    /// `count` uniformly random bits (`1 ... 64`) as the low bits of a word.
    @inline(__always)
    mutating func bits(_ count: Int) -> UInt64 {
        if count <= available {
            let value = count == 64 ? word : word & ((1 &<< UInt64(count)) &- 1)
            word = count == 64 ? 0 : word &>> UInt64(count)
            available -= count
            return value
        }
        let low = word
        let have = available
        let need = count - have
        let fresh = nextWord()
        let high = need == 64 ? fresh : fresh & ((1 &<< UInt64(need)) &- 1)
        word = need == 64 ? 0 : fresh &>> UInt64(need)
        available = 64 - need
        return low | (high &<< UInt64(have))
    }

    /// A uniform integer in `0 ..< bound` by rejection: draw `bitCount` bits (the bit length of `bound - 1`) until
    /// the value is below `bound`. Exactly uniform; fewer than two draws on average.
    ///
    /// - Precondition: `bound >= 1` and `bitCount == 64 - (bound - 1).leadingZeroBitCount`.
    @inline(__always)
    mutating func uniform(below bound: UInt64, bitCount: Int) -> UInt64 {
        if bound == 1 { return 0 }
        while true {
            let candidate = bits(bitCount)
            if candidate < bound { return candidate }
        }
    }

    /// The bit length of `bound - 1`, as ``uniform(below:bitCount:)`` needs it.
    static func bitCount(below bound: UInt64) -> Int {
        64 - (bound - 1).leadingZeroBitCount
    }
}

/// Runs `body` on a ``RandomBits`` stream fed from `random`, with a chunk of `words` 64-bit words on the stack.
///
/// No allocation: the chunk is a temporary stack allocation and the refill closure does not escape `body`.
@inline(__always)
func withRandomBits<Source: RandomSource, Result>(
    _ random: inout Source, words: Int, _ body: (inout RandomBits) -> Result
) -> Result {
    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(words, 1)) { storage in
        withoutActuallyEscaping({ (buffer: UnsafeMutableRawBufferPointer) in random.fill(buffer) }) { refill in
            var bits = RandomBits(storage: storage, refill: refill)
            return body(&bits)
        }
    }
}
