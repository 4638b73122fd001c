import SecAggCrypto

/// A seeded, reproducible `RandomSource` for tests (SplitMix64, little-endian words; a partial word's unused
/// bytes are discarded).
struct SeededRandom: RandomSource {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let word = nextWord().littleEndian
            let take = min(8, buffer.count - offset)
            withUnsafeBytes(of: word) { bytes in
                for index in 0..<take { buffer[offset + index] = bytes[index] }
            }
            offset += take
        }
    }
}

/// Replays a fixed list of 64-bit words (8 little-endian bytes each), then zeros: lets a test choose exactly
/// which polynomial coefficients `Shamir.split` draws.
struct ScriptedRandom: RandomSource {
    var words: [UInt64]

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count % 8 == 0, "ScriptedRandom serves whole words only")
        for start in stride(from: 0, to: buffer.count, by: 8) {
            let word = words.isEmpty ? 0 : words.removeFirst()
            buffer.storeBytes(of: word.littleEndian, toByteOffset: start, as: UInt64.self)
        }
    }
}

/// `count` reproducible secret bytes.
func secretBytes(_ count: Int, seed: UInt64) -> SecureBytes {
    var random = SeededRandom(seed: seed)
    return SecureBytes(copying: random.bytes(count))
}
