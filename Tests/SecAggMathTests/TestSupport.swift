import SecAggCrypto
@testable import SecAggMath

/// A seeded, reproducible `RandomSource` for tests: the module's own SplitMix64 (little-endian words; a partial
/// word's unused bytes are discarded).
typealias SeededRandom = SplitMix64

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
