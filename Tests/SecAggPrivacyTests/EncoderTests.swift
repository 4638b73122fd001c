#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SecAggCrypto
import Testing

import SecAggPrivacy

/// A reproducible random source for these tests: the public coin on a seed hashed from `label`.
private func encoderRandom(_ label: String) -> PublicCoin {
    guard let coin = try? PublicCoin(seed: encoderSeed(label)) else {
        preconditionFailure("a 32-byte seed is a valid coin key")
    }
    return coin
}

/// A 32-byte seed derived from `label`.
private func encoderSeed(_ label: String) -> [UInt8] {
    Blake2b.hash(Array("secagg/test/encoder/\(label)".utf8), outputByteCount: 32)
}

/// `count` values uniform in [−scale, scale) from `random`.
private func uniformVector(_ count: Int, scale: Double, _ random: inout PublicCoin) -> [Double] {
    (0..<count).map { _ in (Double(random.nextUInt64() >> 11) * 0x1p-53 * 2 - 1) * scale }
}

private func l2Norm(_ values: [Double]) -> Double {
    values.reduce(0) { $0 + $1 * $1 }.squareRoot()
}

private func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
    zip(a, b).map { ($0 - $1).magnitude }.max() ?? 0
}

/// Lane-wise sum modulo 2^bits: what secure aggregation releases.
private func modularSum(_ vectors: [[UInt64]], bits: Int) -> [UInt64] {
    let mask = SignedModular.mask(bits: bits)
    var sum = [UInt64](repeating: 0, count: vectors[0].count)
    for vector in vectors {
        for index in sum.indices { sum[index] = (sum[index] &+ vector[index]) & mask }
    }
    return sum
}

@Suite struct HadamardEncoderTests {
    @Test func paddedDimensionIsNextPowerOfTwo() {
        let cases: [(Int, Int)] = [(1, 1), (2, 2), (3, 4), (4, 4), (5, 8), (100, 128), (128, 128), (129, 256)]
        for (dimension, padded) in cases {
            #expect(RandomizedHadamard.paddedDimension(for: dimension) == padded)
        }
    }

    @Test func transformIsTheNormalisedSylvesterMatrix() {
        for log in 0...6 {
            let size = 1 << log
            let scale = 1 / Double(size).squareRoot()
            var matrix: [[Double]] = []
            for column in 0..<size {
                var basis = [Double](repeating: 0, count: size)
                basis[column] = 1
                RandomizedHadamard.transform(&basis)
                matrix.append(basis)
                for row in 0..<size {
                    let sign: Double = (row & column).nonzeroBitCount % 2 == 0 ? 1 : -1
                    #expect((basis[row] - sign * scale).magnitude < 1e-12)
                }
            }
            // Orthonormal: columns have unit norm and are pairwise orthogonal.
            for a in 0..<size {
                for b in 0..<size {
                    let dot = zip(matrix[a], matrix[b]).reduce(0) { $0 + $1.0 * $1.1 }
                    #expect((dot - (a == b ? 1 : 0)).magnitude < 1e-12)
                }
            }
        }
    }

    @Test func transformIsSelfInverse() {
        var random = encoderRandom("self-inverse")
        for size in [1, 2, 8, 1024] {
            let original = uniformVector(size, scale: 10, &random)
            var vector = original
            RandomizedHadamard.transform(&vector)
            #expect((l2Norm(vector) - l2Norm(original)).magnitude < 1e-9)
            RandomizedHadamard.transform(&vector)
            #expect(maxDifference(vector, original) < 1e-9)
        }
    }

    @Test func rotationRoundTripsWithPadding() throws {
        var random = encoderRandom("rotation")
        for dimension in [1, 3, 5, 100, 128, 1000] {
            let rotation = try RandomizedHadamard(dimension: dimension, seed: encoderSeed("seed-\(dimension)"))
            let original = uniformVector(dimension, scale: 3, &random)
            let rotated = try rotation.rotate(original)
            #expect(rotated.count == RandomizedHadamard.paddedDimension(for: dimension))
            #expect((l2Norm(rotated) - l2Norm(original)).magnitude < 1e-9)
            let back = try rotation.unrotate(rotated)
            #expect(back.count == dimension)
            #expect(maxDifference(back, original) < 1e-9)
        }
    }

    @Test func rotationSpreadsABasisVector() throws {
        // A single spike becomes ±1/√D everywhere: the point of rotating before rounding.
        let rotation = try RandomizedHadamard(dimension: 1000, seed: encoderSeed("spread"))
        var spike = [Double](repeating: 0, count: 1000)
        spike[17] = 1
        let rotated = try rotation.rotate(spike)
        for value in rotated { #expect((value.magnitude - 1 / 32.0).magnitude < 1e-12) }
    }

    /// Known answer from RFC 8439 §A.1 (ChaCha20 keystream, all-zero key and nonce, counter 0: 76 b8 e0 ad …):
    /// the signs are the coin's bits, least significant first, 1 meaning −1.
    @Test func signsFollowTheCoinBits() throws {
        let rotation = try RandomizedHadamard(dimension: 16, seed: [UInt8](repeating: 0, count: 32))
        // 0x76 = 0b0111_0110, 0xb8 = 0b1011_1000.
        let expected: [Double] = [1, -1, -1, 1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, 1, -1]
        #expect(rotation.signs == expected)

        // For any seed and a padded length, sign i is bit i mod 8 of coin byte ⌊i/8⌋.
        let seed = encoderSeed("signs")
        let wide = try RandomizedHadamard(dimension: 100, seed: seed)
        var coin = try PublicCoin(seed: seed)
        let bytes = coin.bytes(16)
        for index in 0..<128 {
            let bit = (bytes[index / 8] >> UInt8(index % 8)) & 1
            #expect(wide.signs[index] == (bit == 1 ? -1 : 1))
        }
    }

    @Test func rotationRejectsBadInput() throws {
        #expect(throws: EncodingError.invalidRotationSeed(length: 31)) {
            try RandomizedHadamard(dimension: 4, seed: [UInt8](repeating: 0, count: 31))
        }
        #expect(throws: EncodingError.self) { try RandomizedHadamard(dimension: 0, seed: encoderSeed("x")) }
        let rotation = try RandomizedHadamard(dimension: 5, seed: encoderSeed("x"))
        #expect(throws: EncodingError.dimensionMismatch(expected: 5, actual: 4)) { try rotation.rotate([1, 2, 3, 4]) }
        #expect(throws: EncodingError.dimensionMismatch(expected: 8, actual: 5)) {
            try rotation.unrotate([1, 2, 3, 4, 5])
        }
    }
}

@Suite struct RoundingEncoderTests {
    @Test func clippingScalesOnlyLongVectors() throws {
        let encoder = try FloatVectorEncoder(dimension: 4, clip: 2, granularity: 0.01, bits: 32)
        let long: [Double] = [3, 4, 0, 0]  // norm 5
        let clipped = try encoder.clipped(long)
        #expect((l2Norm(clipped) - 2).magnitude < 1e-12)
        #expect(maxDifference(clipped, [1.2, 1.6, 0, 0]) < 1e-12)
        let short: [Double] = [0.3, -0.4, 1, 0.5]
        #expect(try encoder.clipped(short) == short)
        #expect(try encoder.clipped([0, 0, 0, 0]) == [0, 0, 0, 0])
        // Huge values do not overflow the norm.
        let huge = try encoder.clipped([1e300, 1e300, 0, 0])
        #expect((l2Norm(huge) - 2).magnitude < 1e-12)
        #expect(throws: EncodingError.nonFiniteValue(index: 2)) { try encoder.clipped([1, 2, .nan, 3]) }
        #expect(throws: EncodingError.nonFiniteValue(index: 0)) { try encoder.clipped([.infinity, 2, 1, 3]) }
        #expect(throws: EncodingError.dimensionMismatch(expected: 4, actual: 3)) { try encoder.clipped([1, 2, 3]) }
    }

    @Test func sensitivityBoundMatchesKLS21() throws {
        // c = C/γ = 64, D = 256; with β = e^(−1/2), √(2·ln(1/β)) = 1:
        // min((64 + 16)², 64² + 256/4 + 1·(64 + 8)) = min(6400, 4232).
        let encoder = try FloatVectorEncoder(dimension: 200, clip: 1, granularity: 1.0 / 64, bits: 32)
        #expect(encoder.encodedDimension == 256)
        #expect((encoder.squaredL2SensitivityBound - 4232).magnitude < 1e-9)
        #expect(encoder.l2SensitivityBound * encoder.l2SensitivityBound >= encoder.squaredL2SensitivityBound)
        #expect(encoder.worstCaseCoordinateBound.deterministic == 65)  // ⌊√4232⌋

        let unbiased = try FloatVectorEncoder(
            dimension: 200, clip: 1, granularity: 1.0 / 64, bits: 32, roundingBias: 0)
        #expect(unbiased.squaredL2SensitivityBound == 6400)
        let plain = try FloatVectorEncoder(dimension: 200, clip: 1, granularity: 1.0 / 64, bits: 32, rotation: false)
        #expect(plain.encodedDimension == 200)
        // A small β on a short vector: the deterministic term is the smaller one. c = 1, D = 1, β = 0.01:
        // (1 + 1)² = 4 < 1 + 1/4 + √(2·ln 100)·(1 + 1/2) ≈ 5.80.
        let tiny = try FloatVectorEncoder(
            dimension: 1, clip: 1, granularity: 1, bits: 32, rotation: false, roundingBias: 0.01)
        #expect(tiny.squaredL2SensitivityBound == 4)
    }

    @Test func randomizedRoundingIsUnbiased() throws {
        let values: [Double] = [0.3, -1.7, 2.5, 4, -0.01, 1000.875, -3.25]
        var random = encoderRandom("unbiased")
        let draws = 20_000
        var sums = [Int64](repeating: 0, count: values.count)
        for _ in 0..<draws {
            let rounded = try FloatVectorEncoder.conditionallyRound(values, squaredNormBound: .infinity, using: &random)
            for (index, value) in rounded.enumerated() {
                let floor = values[index].rounded(.down)
                #expect(Double(value) == floor || Double(value) == floor + 1)
                sums[index] += value
            }
        }
        for (index, value) in values.enumerated() {
            let mean = Double(sums[index]) / Double(draws)
            let fraction = value - value.rounded(.down)
            // Five standard errors of a Bernoulli(fraction) mean, plus a margin for integer inputs.
            let tolerance = 5 * (fraction * (1 - fraction) / Double(draws)).squareRoot() + 1e-12
            #expect((mean - value).magnitude <= tolerance, "coordinate \(index): mean \(mean) vs \(value)")
        }
    }

    /// Known answer from RFC 8439 §A.1 keystream words (little-endian) 0x903df1a0ade0b876, 0x28bd8653e56a5d40,
    /// 0x1aed8da0b819d2bd, 0xc70d778bccef36a8: u ≈ 0.564, 0.159, 0.105, 0.777 against fraction 0.5.
    @Test func roundingConsumesOneWordPerCoordinate() throws {
        var coin = try PublicCoin(seed: [UInt8](repeating: 0, count: 32))
        let rounded = try FloatVectorEncoder.conditionallyRound(
            [0.5, 0.5, 0.5, 0.5], squaredNormBound: .infinity, using: &coin)
        #expect(rounded == [0, 1, 1, 0])
    }

    @Test func conditionalRoundingRespectsTheNormBound() throws {
        let encoder = try FloatVectorEncoder(dimension: 250, clip: 1, granularity: 1.0 / 16, bits: 32)
        var random = encoderRandom("norm-bound")
        for trial in 0..<200 {
            // Vectors with norm well above the clip, so every one is clipped to exactly C.
            let values = uniformVector(250, scale: 1, &random)
            let rounded = try encoder.quantize(values, rotationSeed: encoderSeed("round-\(trial)"), using: &random)
            #expect(rounded.count == 256)
            let squared = rounded.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(squared <= encoder.squaredL2SensitivityBound)
        }
    }

    @Test func roundingRejectsBadInput() {
        var random = encoderRandom("bad-rounding")
        #expect(throws: EncodingError.nonFiniteValue(index: 1)) {
            try FloatVectorEncoder.conditionallyRound([0, .nan], squaredNormBound: 10, using: &random)
        }
        #expect(throws: EncodingError.self) {
            try FloatVectorEncoder.conditionallyRound([0, 0x1p62], squaredNormBound: .infinity, using: &random)
        }
        #expect(throws: EncodingError.self) {
            try FloatVectorEncoder.conditionallyRound([0, 1], squaredNormBound: .nan, using: &random)
        }
        #expect(throws: EncodingError.self) {
            try FloatVectorEncoder.conditionallyRound([0, 1], squaredNormBound: -1, using: &random)
        }
    }

    @Test func roundingGivesUpWhenTheBoundIsUnreachable() {
        var random = encoderRandom("give-up")
        let values = [Double](repeating: 0.999_999, count: 64)
        #expect(throws: EncodingError.roundingDidNotConverge(attempts: FloatVectorEncoder.maximumRoundingAttempts)) {
            try FloatVectorEncoder.conditionallyRound(values, squaredNormBound: 0, using: &random)
        }
    }
}

@Suite struct RoundTripEncoderTests {
    /// n clients encode, the lanes are summed modulo 2^bits, the sum is decoded: it equals the sum of the clipped
    /// inputs up to the rounding error, which is at most n·γ·√D in L2 norm and about γ·√(n·D)/2 typically.
    @Test(arguments: [(true, 20), (true, 32), (true, 64), (false, 24)])
    func floatSumRoundTrips(rotation: Bool, bits: Int) throws {
        let clients = 10
        let dimension = 100
        let granularity = 1.0 / 1024
        let encoder = try FloatVectorEncoder(
            dimension: dimension, clip: 1, granularity: granularity, bits: bits, rotation: rotation)
        _ = try encoder.checkBits(clients: clients)
        let seed = encoderSeed("round-trip-\(bits)")
        var inputs = encoderRandom("inputs-\(bits)")
        var expected = [Double](repeating: 0, count: dimension)
        var lanes: [[UInt64]] = []
        for client in 0..<clients {
            // Half the clients exceed the clip, half do not.
            let values = uniformVector(dimension, scale: client.isMultiple(of: 2) ? 1 : 0.05, &inputs)
            let clipped = try encoder.clipped(values)
            for index in expected.indices { expected[index] += clipped[index] }
            var random = encoderRandom("client-\(client)")
            let encoded = try encoder.encode(values, rotationSeed: seed, using: &random)
            #expect(encoded.count == encoder.encodedDimension)
            #expect(encoded.allSatisfy { $0 <= SignedModular.mask(bits: bits) })
            lanes.append(encoded)
        }
        let sum = try encoder.decodeSum(modularSum(lanes, bits: bits), rotationSeed: seed)
        #expect(sum.count == dimension)
        let error = l2Norm(zip(sum, expected).map { $0 - $1 })
        let dimensionD = Double(encoder.encodedDimension)
        #expect(error <= Double(clients) * granularity * dimensionD.squareRoot())
        #expect(error <= 1.5 * granularity * (Double(clients) * dimensionD).squareRoot())

        let mean = try encoder.decodeMean(modularSum(lanes, bits: bits), survivors: clients, rotationSeed: seed)
        #expect(maxDifference(mean, sum.map { $0 / Double(clients) }) < 1e-12)
    }

    /// The most clients the check admits, all sending the same vector of norm C (the coherent worst case for the
    /// rotated bound): the sum does not wrap. A wrap would move the decoded sum by 2^bits·γ = 16 in L2 norm.
    @Test(arguments: ["spike", "random", "constant"])
    func admittedClientsDoNotWrap(shape: String) throws {
        let encoder = try FloatVectorEncoder(dimension: 1000, clip: 1, granularity: 1.0 / 4096, bits: 16)
        let clients = 63
        _ = try encoder.checkBits(clients: clients)
        var values = [Double](repeating: 0, count: 1000)
        switch shape {
        case "spike": values[123] = 5
        case "constant": values = [Double](repeating: 1, count: 1000)
        default:
            var random = encoderRandom("aligned")
            values = uniformVector(1000, scale: 1, &random)
        }
        let clipped = try encoder.clipped(values)
        let seed = encoderSeed("aligned-\(shape)")
        var lanes: [[UInt64]] = []
        for client in 0..<clients {
            var random = encoderRandom("aligned-client-\(client)")
            lanes.append(try encoder.encode(values, rotationSeed: seed, using: &random))
        }
        let sum = try encoder.decodeSum(modularSum(lanes, bits: 16), rotationSeed: seed)
        let error = l2Norm(zip(sum, clipped).map { $0 - Double(clients) * $1 })
        #expect(error <= Double(clients) / 4096 * 32)
    }

    @Test func encodingIsDeterministic() throws {
        let encoder = try FloatVectorEncoder(dimension: 30, clip: 1, granularity: 0.001, bits: 24)
        var inputs = encoderRandom("deterministic")
        let values = uniformVector(30, scale: 0.1, &inputs)
        var first = encoderRandom("rounding")
        var second = encoderRandom("rounding")
        let a = try encoder.encode(values, rotationSeed: encoderSeed("a"), using: &first)
        let b = try encoder.encode(values, rotationSeed: encoderSeed("a"), using: &second)
        #expect(a == b)
        var third = encoderRandom("rounding")
        let c = try encoder.encode(values, rotationSeed: encoderSeed("b"), using: &third)
        #expect(a != c)
        // Either rotation decodes to the input within the rounding error.
        #expect(maxDifference(try encoder.decodeSum(c, rotationSeed: encoderSeed("b")), values) < 0.001 * 6)
    }

    @Test func negativeValuesWrapAndLiftAtTheEdges() throws {
        #expect(SignedModular.wrap(-1, bits: 8) == 255)
        #expect(SignedModular.wrap(-128, bits: 8) == 128)
        #expect(SignedModular.wrap(-127, bits: 8) == 129)
        #expect(SignedModular.lift(255, bits: 8) == -1)
        #expect(SignedModular.lift(129, bits: 8) == -127)
        #expect(SignedModular.lift(128, bits: 8) == 128)  // the range is (−2^(bits−1), 2^(bits−1)]
        #expect(SignedModular.lift(127, bits: 8) == 127)
        #expect(SignedModular.lift(0, bits: 8) == 0)
        #expect(SignedModular.lift(1, bits: 1) == 1)
        #expect(SignedModular.lift(0, bits: 1) == 0)
        #expect(SignedModular.wrap(-1, bits: 64) == .max)
        #expect(SignedModular.lift(.max, bits: 64) == -1)
        #expect(SignedModular.lift(1 << 63, bits: 64) == Int128(1) << 63)
        #expect(SignedModular.lift((1 << 63) + 1, bits: 64) == -(Int128(1) << 63) + 1)
        #expect(SignedModular.wrap(.min, bits: 64) == 1 << 63)
        #expect(SignedModular.liftToDouble(.max, bits: 64) == -1)
        #expect(SignedModular.liftToDouble(1 << 63, bits: 64) == 0x1p63)

        // One coordinate, no rotation, γ = 1: the integers are the inputs themselves. 9 bits hold ±256.
        let encoder = try FloatVectorEncoder(
            dimension: 1, clip: 128, granularity: 1, bits: 9, rotation: false, roundingBias: 0)
        var random = encoderRandom("edges")
        let minus = try encoder.encode([-128], using: &random)
        let plus = try encoder.encode([128], using: &random)
        #expect(minus == [512 - 128])
        #expect(plus == [128])
        #expect(try encoder.decodeSum(minus) == [-128])
        let nearlyMinus = try encoder.encode([-127], using: &random)
        #expect(try encoder.decodeSum(modularSum([nearlyMinus, nearlyMinus], bits: 9)) == [-254])
        #expect(try encoder.decodeSum(modularSum([nearlyMinus, minus], bits: 9)) == [-255])
        // +256 = 2^(bits−1) is the top of the range and still decodes.
        #expect(try encoder.decodeSum(modularSum([plus, plus], bits: 9)) == [256])
        // −256 is outside (−256, 256]: it lands on lane 256 and comes back as +256. The bits check refuses
        // two clients for exactly this reason (2·⌊Δ₂⌋ = 258 ≥ 256), and accepts one.
        #expect(try encoder.decodeSum(modularSum([minus, minus], bits: 9)) == [256])
        #expect(throws: EncodingError.self) { try encoder.checkBits(clients: 2) }
        #expect(try encoder.checkBits(clients: 1).sumBound == 129)
    }

    @Test func integerRoundTripWithNoise() throws {
        let encoder = try IntegerVectorEncoder(dimension: 6, lowerBound: -5, upperBound: 10, bits: 10)
        let clients = 7
        let report = try encoder.checkBits(clients: clients, noiseStandardDeviation: 3)
        #expect(report.requiredBits <= 10)
        var random = encoderRandom("integers")
        var expected = [Int64](repeating: 0, count: 6)
        var lanes: [[UInt64]] = []
        for client in 0..<clients {
            var values = (0..<6).map { _ in Int64(random.uniform(below: 16)) - 5 }
            if client == 0 { values[0] = -5; values[1] = 10 }
            for index in values.indices { expected[index] += values[index] }
            let encoded = try encoder.encode(values)
            #expect(encoded == values.map { UInt64($0 + 5) })
            lanes.append(encoded)
        }
        #expect(try encoder.decodeSum(modularSum(lanes, bits: 10), survivors: clients) == expected)
        let mean = try encoder.decodeMean(modularSum(lanes, bits: 10), survivors: clients)
        #expect(mean == expected.map { Double($0) / Double(clients) })

        // Noise of either sign, added modulo 2^bits, comes back as is (12 = 4σ on either side).
        let noise: [Int64] = [-12, 12, 0, -1, 5, -7]
        let noisy = modularSum(lanes + [noise.map { SignedModular.wrap($0, bits: 10) }], bits: 10)
        let decoded = try encoder.decodeSum(noisy, survivors: clients)
        #expect(decoded == zip(expected, noise).map { $0 + $1 })
    }

    @Test func integerCountsGoNegativeWithNoise() throws {
        // Histogram counts of 0 plus negative noise decode to negative numbers, not to 2^bits − small.
        let encoder = try IntegerVectorEncoder(dimension: 3, lowerBound: 0, upperBound: 1, bits: 8, l2NormBound: 1)
        let lanes = [try encoder.encode([0, 1, 0]), try encoder.encode([0, 1, 0])]
        let noise: [Int64] = [-3, 2, 0]
        let released = modularSum(lanes + [noise.map { SignedModular.wrap($0, bits: 8) }], bits: 8)
        #expect(try encoder.decodeSum(released, survivors: 2) == [-3, 4, 0])
        #expect(encoder.l2SensitivityBound == 1)
    }

    @Test func integerDecodingWindowEdges() throws {
        // n·w = 255 < 2^8: every sum 0...255 decodes, from lane 0 (offset −127 around c = 127) to lane 255.
        let encoder = try IntegerVectorEncoder(dimension: 1, lowerBound: 0, upperBound: 255, bits: 8)
        #expect(try encoder.decodeSum([0], survivors: 1) == [0])
        #expect(try encoder.decodeSum([255], survivors: 1) == [255])
        #expect(try encoder.decodeSum([128], survivors: 1) == [128])
        // The extreme 64-bit case: one client, the full Int64 range.
        let full = try IntegerVectorEncoder(dimension: 4, lowerBound: .min, upperBound: .max, bits: 64)
        let values: [Int64] = [.min, .max, 0, -1]
        #expect(try full.decodeSum(full.encode(values), survivors: 1) == values)
        // Two such clients cannot fit: the check says so.
        #expect(throws: EncodingError.self) { try full.checkBits(clients: 2) }
    }

    @Test func integerInputViolationsAreRejected() throws {
        let encoder = try IntegerVectorEncoder(dimension: 3, lowerBound: -2, upperBound: 5, bits: 16)
        #expect(throws: EncodingError.valueOutOfBounds(index: 1, value: 6, lowerBound: -2, upperBound: 5)) {
            try encoder.encode([0, 6, 1])
        }
        #expect(throws: EncodingError.valueOutOfBounds(index: 2, value: -3, lowerBound: -2, upperBound: 5)) {
            try encoder.encode([0, 5, -3])
        }
        #expect(throws: EncodingError.dimensionMismatch(expected: 3, actual: 2)) { try encoder.encode([0, 1]) }
        #expect(throws: EncodingError.laneOutOfRange(index: 0, bits: 16)) {
            try encoder.decodeSum([1 << 16, 0, 0], survivors: 1)
        }
        #expect(throws: EncodingError.invalidSurvivorCount(0)) { try encoder.decodeSum([0, 0, 0], survivors: 0) }

        let histogram = try IntegerVectorEncoder(dimension: 4, lowerBound: 0, upperBound: 1, bits: 8, l2NormBound: 1)
        #expect(throws: EncodingError.normBoundExceeded(squaredNorm: 2, bound: 1)) {
            try histogram.encode([1, 0, 1, 0])
        }
        #expect(try histogram.encode([0, 0, 1, 0]) == [0, 0, 1, 0])

        #expect(throws: EncodingError.self) { try IntegerVectorEncoder(dimension: 3, lowerBound: 5, upperBound: 4, bits: 8) }
        #expect(throws: EncodingError.self) { try IntegerVectorEncoder(dimension: 3, lowerBound: 0, upperBound: 256, bits: 8) }
        #expect(throws: EncodingError.self) { try IntegerVectorEncoder(dimension: 0, lowerBound: 0, upperBound: 1, bits: 8) }
        #expect(throws: EncodingError.self) {
            try IntegerVectorEncoder(dimension: 3, lowerBound: 0, upperBound: 1, bits: 8, l2NormBound: -1)
        }
    }

    @Test func floatEncoderRejectsBadParametersAndInputs() throws {
        let cases: [(Double, Double, Int, Double)] = [
            (0.0, 0.1, 16, 0.5), (1, 0, 16, 0.5), (1, .nan, 16, 0.5), (1, 0.1, 0, 0.5), (1, 0.1, 65, 0.5),
            (1, 0.1, 16, 1.0), (1, 0.1, 16, -0.1), (1e30, 1e-30, 64, 0.5),
        ]
        for (clip, granularity, bits, beta) in cases {
            #expect(throws: EncodingError.self) {
                try FloatVectorEncoder(dimension: 8, clip: clip, granularity: granularity, bits: bits, roundingBias: beta)
            }
        }
        let encoder = try FloatVectorEncoder(dimension: 5, clip: 1, granularity: 0.01, bits: 16)
        var random = encoderRandom("bad")
        #expect(throws: EncodingError.missingRotationSeed) { try encoder.encode([1, 2, 3, 4, 5], using: &random) }
        #expect(throws: EncodingError.invalidRotationSeed(length: 3)) {
            try encoder.encode([1, 2, 3, 4, 5], rotationSeed: [1, 2, 3], using: &random)
        }
        #expect(throws: EncodingError.dimensionMismatch(expected: 8, actual: 5)) {
            try encoder.decodeSum([0, 0, 0, 0, 0], rotationSeed: encoderSeed("s"))
        }
        #expect(throws: EncodingError.laneOutOfRange(index: 7, bits: 16)) {
            try encoder.decodeSum([0, 0, 0, 0, 0, 0, 0, 1 << 16], rotationSeed: encoderSeed("s"))
        }
        #expect(throws: EncodingError.invalidSurvivorCount(0)) {
            try encoder.decodeMean([UInt64](repeating: 0, count: 8), survivors: 0, rotationSeed: encoderSeed("s"))
        }
    }
}

@Suite struct BitsCheckEncoderTests {
    @Test func pureCheckComputesTheBound() throws {
        // R = n·B = 10·100 = 1000: 11 bits (capacity 1024) suffice, 10 (capacity 512) do not.
        let bound = EncoderBitsCheck.CoordinateBound(deterministic: 100)
        let report = try EncoderBitsCheck.check(bits: 11, clients: 10, bound: bound)
        #expect(report.sumBound == 1000)
        #expect(report.requiredBits == 11)
        #expect(report.capacity == 1024)
        #expect(report.wrapProbabilityPerCoordinate == 0)
        do {
            _ = try EncoderBitsCheck.check(bits: 10, clients: 10, bound: bound)
            Issue.record("expected a refusal")
        } catch {
            guard case .insufficientBits(let shortfall) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(shortfall.bits == 10)
            #expect(shortfall.requiredBits == 11)
            #expect(shortfall.clients == 10)
            #expect(shortfall.maximumClients == 5)  // 100·n < 512
            #expect(shortfall.sumBound == 1000)
            #expect(shortfall.capacity == 512)
            #expect(shortfall.noiseBound == 0)
            #expect(shortfall.suggestion == nil)
            #expect(error.description.contains("raise bits to 11; or admit at most 5 clients"))
        }
        // Noise σ = 10 at k = 4 adds 40: R = 1040 needs 12 bits, and a coordinate wraps w.p. ≤ 2·e^(−8).
        let noisy = try EncoderBitsCheck.check(bits: 12, clients: 10, bound: bound, noiseStandardDeviation: 10)
        #expect(noisy.sumBound == 1040)
        #expect(noisy.requiredBits == 12)
        #expect((noisy.wrapProbabilityPerCoordinate - 2 * 0.000_335_462_627_902_511_8).magnitude < 1e-15)
        #expect((noisy.wrapProbability(dimension: 1000) - 1000 * noisy.wrapProbabilityPerCoordinate).magnitude < 1e-12)
        // A coherent sub-Gaussian part: R = n·B + k·√((n·s)² + σ²) = 10 + 4·√(100² + 0) = 410.
        let rotated = EncoderBitsCheck.CoordinateBound(deterministic: 1, subgaussianScale: 10)
        #expect(try EncoderBitsCheck.check(bits: 10, clients: 10, bound: rotated).sumBound == 410)
        // k for a target: 2·D·exp(−k²/2) = p.
        let k = EncoderBitsCheck.standardDeviations(forWrapProbability: 1e-6, dimension: 1000)
        #expect((2 * 1000 * exp(-k * k / 2) - 1e-6).magnitude < 1e-15)
        #expect(throws: EncodingError.self) { try EncoderBitsCheck.check(bits: 16, clients: 0, bound: bound) }
        #expect(throws: EncodingError.self) {
            try EncoderBitsCheck.check(bits: 16, clients: 1, bound: bound, noiseStandardDeviation: -1)
        }
    }

    @Test func integerEncoderRefusesWithRemedies() throws {
        // 1000 clients × w = 255 = 255,000 ≥ 2^16: needs 18 bits; 16 bits hold 257 clients or w ≤ 65.
        let encoder = try IntegerVectorEncoder(dimension: 10, lowerBound: 0, upperBound: 255, bits: 16)
        do {
            _ = try encoder.checkBits(clients: 1000)
            Issue.record("expected a refusal")
        } catch {
            guard case .insufficientBits(let shortfall) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(shortfall.requiredBits == 18)
            #expect(shortfall.maximumClients == 257)
            let message = error.description
            #expect(message.contains("raise bits to 18"))
            #expect(message.contains("admit at most 257 clients"))
            #expect(message.contains("upperBound − lowerBound ≤ 65"))
        }
        #expect(try encoder.checkBits(clients: 257).requiredBits == 16)
        #expect(throws: EncodingError.self) { try encoder.checkBits(clients: 258) }
    }

    @Test func floatEncoderRefusesWithRemedies() throws {
        // d = 1000 → D = 1024, c = 1/γ = 4096: with rotation each client adds ≤ 1 + k·4096/32 = 513 at k = 4,
        // so 100 clients need ±51,300 → 17 bits; 16 bits (±32,768) are too few.
        let encoder = try FloatVectorEncoder(dimension: 1000, clip: 1, granularity: 1.0 / 4096, bits: 16)
        do {
            _ = try encoder.checkBits(clients: 100)
            Issue.record("expected a refusal")
        } catch {
            guard case .insufficientBits(let shortfall) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(shortfall.sumBound == 100 + 4 * 100 * 128)
            #expect(shortfall.requiredBits == 17)
            #expect(shortfall.maximumClients == 63)  // 513·n < 32768
            let message = error.description
            #expect(message.contains("raise bits to 17"))
            // 100 + 4·100·c/32 < 32768 ⇒ c < 2613.44 ⇒ clip < 2613.44/4096 ≈ 0.63805.
            #expect(message.contains("lower the clip to at most 0.638 (now 1.0)"))
            #expect(message.contains("admit at most 63 clients"))
        }
        let report = try encoder.checkBits(clients: 63)
        #expect(report.wrapProbabilityPerCoordinate > 0)
        // Without rotation the worst case ⌊Δ₂⌋ per client applies: far more bits.
        let plain = try FloatVectorEncoder(
            dimension: 1000, clip: 1, granularity: 1.0 / 4096, bits: 16, rotation: false)
        #expect(throws: EncodingError.self) { try plain.checkBits(clients: 63) }
        // Noise beyond the capacity: only bits or σ can help.
        #expect(throws: EncodingError.self) { try encoder.checkBits(clients: 1, noiseStandardDeviation: 1e6) }
    }
}

