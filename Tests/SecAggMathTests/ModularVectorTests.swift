import SecAggCrypto
import Testing

@testable import SecAggMath

@Suite struct ModularVectorTests {
    func mask(_ bits: Int) -> UInt64 { bits == 64 ? .max : (1 << UInt64(bits)) - 1 }

    func randomValues(_ count: Int, bits: Int, seed: UInt64) -> [UInt64] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in random.nextWord() & mask(bits) }
    }

    @Test func rejectsInvalidBits() {
        for bits in [0, -1, 65] {
            #expect(throws: VectorError.invalidBits(bits)) { try ModularVector(zeros: 3, bits: bits) }
            #expect(throws: VectorError.invalidBits(bits)) { try ModularVector(values: [], bits: bits) }
            #expect(throws: VectorError.invalidBits(bits)) {
                try ModularVector(decoding: [UInt8](), count: 0, bits: bits)
            }
        }
    }

    @Test func choosesLaneWidthFromBits() throws {
        let narrow = try ModularVector(zeros: 4, bits: 32)
        let wide = try ModularVector(zeros: 4, bits: 33)
        #expect(narrow.lanes == .narrow([0, 0, 0, 0]))
        #expect(wide.lanes == .wide([0, 0, 0, 0]))
        #expect(narrow.laneByteCount == 4)
        #expect(wide.laneByteCount == 8)
        #expect(narrow.count == 4 && wide.count == 4)
        #expect(try ModularVector(zeros: 0, bits: 1).count == 0)
    }

    @Test func valuesMustBeReduced() throws {
        #expect(throws: VectorError.valueOutOfRange(index: 2)) { try ModularVector(values: [0, 255, 256], bits: 8) }
        #expect(throws: VectorError.valueOutOfRange(index: 0)) { try ModularVector(values: [1 << 40], bits: 40) }
        let full = try ModularVector(values: [.max, 0, 1], bits: 64)
        #expect(full.values == [.max, 0, 1])
        #expect(full[0] == .max)
        let narrow = try ModularVector(values: [7, 1], bits: 3)
        #expect(narrow.values == [7, 1])
        #expect(narrow[1] == 1)
    }

    @Test(arguments: [1, 2, 8, 16, 31, 32, 33, 48, 63, 64])
    func addAndSubtractWrapModuloTwoToTheBits(bits: Int) throws {
        let a = randomValues(1_000, bits: bits, seed: UInt64(bits))
        let b = randomValues(1_000, bits: bits, seed: UInt64(bits) + 100)
        var sum = try ModularVector(values: a, bits: bits)
        try sum.add(ModularVector(values: b, bits: bits))
        #expect(sum.values == zip(a, b).map { ($0 &+ $1) & mask(bits) })
        var difference = try ModularVector(values: a, bits: bits)
        try difference.subtract(ModularVector(values: b, bits: bits))
        #expect(difference.values == zip(a, b).map { ($0 &- $1) & mask(bits) })
        try sum.subtract(ModularVector(values: b, bits: bits))
        #expect(sum.values == a)
    }

    @Test func addDoesNotDisturbCopies() throws {
        let original = try ModularVector(values: [1, 2, 3], bits: 8)
        var copy = original
        try copy.add(ModularVector(values: [255, 255, 255], bits: 8))
        #expect(original.values == [1, 2, 3])
        #expect(copy.values == [0, 1, 2])
    }

    @Test func shapeMismatchLeavesTheVectorUnchanged() throws {
        var vector = try ModularVector(values: [1, 2, 3], bits: 16)
        #expect(throws: VectorError.shapeMismatch(expected: 3, actual: 2)) {
            try vector.add(ModularVector(values: [1, 2], bits: 16))
        }
        #expect(throws: VectorError.shapeMismatch(expected: 16, actual: 17)) {
            try vector.subtract(ModularVector(values: [1, 2, 3], bits: 17))
        }
        #expect(vector.values == [1, 2, 3])
    }

    @Test func encodingIsLittleEndianLanes() throws {
        let narrow = try ModularVector(values: [0x0102, 0xA0B0_C0D0], bits: 32)
        #expect(narrow.encoded() == [0x02, 0x01, 0, 0, 0xD0, 0xC0, 0xB0, 0xA0])
        let wide = try ModularVector(values: [0x0102_0304_0506_0708], bits: 64)
        #expect(wide.encoded() == [8, 7, 6, 5, 4, 3, 2, 1])
    }

    @Test(arguments: [1, 12, 32, 33, 64])
    func decodingRoundTrips(bits: Int) throws {
        let vector = try ModularVector(values: randomValues(257, bits: bits, seed: 3), bits: bits)
        let bytes = vector.encoded()
        #expect(bytes.count == 257 * vector.laneByteCount)
        #expect(try ModularVector(decoding: bytes, count: 257, bits: bits) == vector)
        #expect(try ModularVector(decoding: bytes[...], count: 257, bits: bits) == vector)
        // A collection without contiguous storage takes the copying path.
        #expect(try ModularVector(decoding: bytes.lazy.map { $0 }, count: 257, bits: bits) == vector)
    }

    @Test func decodingRejectsBadInput() throws {
        #expect(throws: VectorError.invalidEncodingLength(expected: 12, actual: 11)) {
            try ModularVector(decoding: [UInt8](repeating: 0, count: 11), count: 3, bits: 20)
        }
        #expect(throws: VectorError.invalidEncodingLength(expected: 16, actual: 24)) {
            try ModularVector(decoding: [UInt8](repeating: 0, count: 24), count: 2, bits: 40)
        }
        // A huge count is refused from the length alone, before any allocation.
        #expect(throws: VectorError.invalidEncodingLength(expected: 1 << 42, actual: 0)) {
            try ModularVector(decoding: [UInt8](), count: 1 << 40, bits: 20)
        }
        #expect(throws: VectorError.invalidEncodingLength(expected: -1, actual: 0)) {
            try ModularVector(decoding: [UInt8](), count: Int.max / 2, bits: 20)
        }
        #expect(throws: VectorError.invalidEncodingLength(expected: -1, actual: 0)) {
            try ModularVector(decoding: [UInt8](), count: -1, bits: 20)
        }
        #expect(throws: VectorError.valueOutOfRange(index: 1)) {
            try ModularVector(decoding: [1, 0, 0, 0, 0, 0, 1, 0], count: 2, bits: 16)
        }
        #expect(throws: VectorError.valueOutOfRange(index: 0)) {
            try ModularVector(decoding: [0, 0, 0, 0, 0x80, 0, 0, 0], count: 1, bits: 39)
        }
    }

    @Test(arguments: [7, 32, 33, 64])
    func maskingThenUnmaskingRestoresTheInput(bits: Int) throws {
        var random = SeededRandom(seed: 77)
        let seed = SymmetricKey(using: &random)
        let input = randomValues(5_000, bits: bits, seed: 78)
        var vector = try ModularVector(values: input, bits: bits)
        vector.applyMask(seed: seed, direction: .add)
        #expect(vector.values != input)
        #expect(vector.values.allSatisfy { $0 & ~mask(bits) == 0 })
        vector.applyMask(seed: seed, direction: .subtract)
        #expect(vector.values == input)
    }

    @Test func maskIsTheExpandersStream() throws {
        var random = SeededRandom(seed: 5)
        let seed = SymmetricKey(using: &random)
        var narrow = try ModularVector(zeros: 100, bits: 20)
        narrow.applyMask(seed: seed, direction: .add)
        var expected = [UInt32](repeating: 0, count: 100)
        expected.withUnsafeMutableBufferPointer { MaskExpander.apply(seed: seed, to: $0, bits: 20, direction: .add) }
        #expect(narrow.lanes == .narrow(expected))

        // Masks cancel in a sum: (x + m) + (y − m) = x + y.
        var first = try ModularVector(values: [1, 2, 3], bits: 64)
        var second = try ModularVector(values: [10, 20, 30], bits: 64)
        first.applyMask(seed: seed, direction: .add)
        second.applyMask(seed: seed, direction: .subtract)
        try first.add(second)
        #expect(first.values == [11, 22, 33])
    }
}
