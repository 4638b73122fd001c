import SecAggCrypto
import Testing

@Suite("MaskExpander")
struct MaskExpanderTests {
    private static let zeroNonce = [UInt8](repeating: 0, count: 12)

    private static func seed(_ fill: UInt8) throws -> SymmetricKey {
        try SymmetricKey(SecureBytes(copying: (0..<32).map { UInt8(truncatingIfNeeded: Int(fill) &* 7 &+ $0) }))
    }

    /// Lane i of the mask, computed byte by byte from the keystream (little-endian, independent of the host).
    private static func manualMask32(seed: SymmetricKey, count: Int, bits: Int) -> [UInt32] {
        let stream = ChaCha20.keystream(key: seed, nonce: zeroNonce, counter: 0, count: count * 4)
        let modulusMask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        return (0..<count).map { lane in
            var word: UInt32 = 0
            for byte in 0..<4 { word |= UInt32(stream[lane * 4 + byte]) << (8 * UInt32(byte)) }
            return word & modulusMask
        }
    }

    private static func manualMask64(seed: SymmetricKey, count: Int, bits: Int) -> [UInt64] {
        let stream = ChaCha20.keystream(key: seed, nonce: zeroNonce, counter: 0, count: count * 8)
        let modulusMask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        return (0..<count).map { lane in
            var word: UInt64 = 0
            for byte in 0..<8 { word |= UInt64(stream[lane * 8 + byte]) << (8 * UInt64(byte)) }
            return word & modulusMask
        }
    }

    /// Lengths around the 4 KiB chunk (1024 UInt32 lanes, 512 UInt64 lanes), 16 KiB plus a remainder, and a
    /// large odd one.
    static let lengths32 = [1, 15, 1023, 1024, 1024 + 1, 16 * 1024 / 4 + 3, 100_003]
    static let lengths64 = [1, 15, 511, 512, 512 + 1, 16 * 1024 / 8 + 3, 100_003]

    @Test("UInt32 lanes: add matches the byte-level definition, subtract restores the input", arguments: [1, 7, 32], lengths32)
    func lanes32(bits: Int, count: Int) throws {
        let seed = try Self.seed(UInt8(bits))
        let modulusMask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        // Inputs below 2^bits, as the protocol guarantees.
        let original = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & modulusMask }
        let mask = Self.manualMask32(seed: seed, count: count, bits: bits)

        var lanes = original
        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .add) }
        let expected = zip(original, mask).map { ($0 &+ $1) & modulusMask }
        #expect(lanes == expected)
        #expect(lanes.allSatisfy { $0 <= modulusMask })

        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .subtract) }
        #expect(lanes == original)
    }

    @Test("UInt64 lanes: add matches the byte-level definition, subtract restores the input", arguments: [33, 61, 64], lengths64)
    func lanes64(bits: Int, count: Int) throws {
        let seed = try Self.seed(UInt8(bits))
        let modulusMask: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        let original = (0..<count).map { (UInt64($0) &* 0x9e37_79b9_7f4a_7c15) & modulusMask }
        let mask = Self.manualMask64(seed: seed, count: count, bits: bits)

        var lanes = original
        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .add) }
        let expected = zip(original, mask).map { ($0 &+ $1) & modulusMask }
        #expect(lanes == expected)
        #expect(lanes.allSatisfy { $0 <= modulusMask })

        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .subtract) }
        #expect(lanes == original)
    }

    @Test("Subtracting from zero gives the negated mask, reduced below 2^bits", arguments: [1, 7, 32])
    func subtractFromZero(bits: Int) throws {
        let seed = try Self.seed(99)
        let count = 4096 + 3
        let modulusMask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        var lanes = [UInt32](repeating: 0, count: count)
        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .subtract) }
        let expected = Self.manualMask32(seed: seed, count: count, bits: bits).map { (0 &- $0) & modulusMask }
        #expect(lanes == expected)
    }

    @Test("Inputs with bits above 2^bits come out reduced")
    func reducesOversizedInputs() throws {
        let seed = try Self.seed(5)
        var lanes32 = [UInt32](repeating: .max, count: 100)
        lanes32.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: 7, direction: .add) }
        let expected32 = Self.manualMask32(seed: seed, count: 100, bits: 7).map { (0x7f &+ $0) & 0x7f }
        #expect(lanes32 == expected32)
        var lanes64 = [UInt64](repeating: .max, count: 100)
        lanes64.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: 33, direction: .add) }
        #expect(lanes64.allSatisfy { $0 < 1 << 33 })
    }

    @Test("A pairwise mask added by one party and subtracted by the other cancels in the sum")
    func pairwiseCancellation() throws {
        let seed = try Self.seed(42)
        let bits = 20
        let u: [UInt32] = (0..<5000).map { UInt32($0 % 1000) }
        let v: [UInt32] = (0..<5000).map { UInt32(($0 * 3) % 1000) }
        var maskedU = u
        var maskedV = v
        maskedU.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .add) }
        maskedV.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: bits, direction: .subtract) }
        #expect(maskedU != u)
        let sum = zip(maskedU, maskedV).map { ($0 &+ $1) & ((1 << 20) - 1) }
        #expect(sum == zip(u, v).map { $0 + $1 })
    }

    // Several masks in one chunk-by-chunk pass give exactly what applying them one after the other gives.
    @Test("Masks applied together equal masks applied one by one", arguments: [20, 32], lengths32)
    func together32(bits: Int, count: Int) throws {
        let masks = try (0..<5).map { position -> MaskExpander.Mask in
            (try Self.seed(UInt8(40 + position)), position % 3 == 0 ? .subtract : .add)
        }
        let input = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) & ((1 << 20) - 1) }
        var together = input
        together.withUnsafeMutableBufferPointer { MaskExpander.apply(masks, to: $0, bits: bits) }
        var oneByOne = input
        for mask in masks {
            oneByOne.withUnsafeMutableBufferPointer {
                MaskExpander.apply(seed: mask.seed, to: $0, bits: bits, direction: mask.direction)
            }
        }
        #expect(together == oneByOne)
        #expect(together != input)
    }

    @Test("Masks applied together equal masks applied one by one (UInt64 lanes)", arguments: [61, 64], lengths64)
    func together64(bits: Int, count: Int) throws {
        let masks = try (0..<3).map { position -> MaskExpander.Mask in
            (try Self.seed(UInt8(90 + position)), position == 1 ? .subtract : .add)
        }
        let input = (0..<count).map { UInt64($0) }
        var together = input
        together.withUnsafeMutableBufferPointer { MaskExpander.apply(masks, to: $0, bits: bits) }
        var oneByOne = input
        for mask in masks {
            oneByOne.withUnsafeMutableBufferPointer {
                MaskExpander.apply(seed: mask.seed, to: $0, bits: bits, direction: mask.direction)
            }
        }
        #expect(together == oneByOne)
    }

    @Test("An empty lane buffer is left alone")
    func empty() throws {
        let seed = try Self.seed(1)
        var lanes: [UInt64] = []
        lanes.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: 64, direction: .add) }
        #expect(lanes.isEmpty)
    }
}
