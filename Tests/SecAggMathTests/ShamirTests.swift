import SecAggCrypto
import Testing

@testable import SecAggMath

@Suite struct ShamirTests {
    // MARK: Round trips

    @Test(arguments: [0, 1, 6, 7, 8, 14, 31, 32, 33, 64])
    func splitThenCombineRoundTrips(byteCount: Int) throws {
        let secret = secretBytes(byteCount, seed: UInt64(byteCount))
        var random = SeededRandom(seed: 99)
        let xs: [UInt32] = [3, 1, 4, 15, 9, 2, 6]
        for threshold in 1...xs.count {
            let shares = try Shamir.split(secret, threshold: threshold, xCoordinates: xs, using: &random)
            #expect(shares.map(\.x) == xs)
            #expect(shares.allSatisfy { $0.values.count == Shamir.elementCount(forSecretByteCount: byteCount) })
            #expect(shares.allSatisfy { $0.values.allSatisfy { $0 < Shamir.prime } })
            // Exactly t shares, all shares, and a rotated choice all give the secret back.
            let exact = try Shamir.combine(
                Array(shares.prefix(threshold)), threshold: threshold, secretByteCount: byteCount)
            let all = try Shamir.combine(shares, threshold: threshold, secretByteCount: byteCount)
            let rotated = Array(shares[2...] + shares[..<2])
            let other = try Shamir.combine(rotated, threshold: threshold, secretByteCount: byteCount)
            #expect(exact.constantTimeEquals(secret))
            #expect(all.constantTimeEquals(secret))
            #expect(other.constantTimeEquals(secret))
        }
    }

    @Test func elementCountIsCeilingOfSevenths() {
        #expect(Shamir.elementCount(forSecretByteCount: 0) == 0)
        #expect(Shamir.elementCount(forSecretByteCount: 1) == 1)
        #expect(Shamir.elementCount(forSecretByteCount: 7) == 1)
        #expect(Shamir.elementCount(forSecretByteCount: 8) == 2)
        #expect(Shamir.elementCount(forSecretByteCount: 32) == 5)
    }

    @Test func splitIsReproducibleFromTheRandomSource() throws {
        let secret = secretBytes(32, seed: 5)
        var first = SeededRandom(seed: 7)
        var second = SeededRandom(seed: 7)
        var third = SeededRandom(seed: 8)
        let xs: [UInt32] = Array(1...10)
        let a = try Shamir.split(secret, threshold: 4, xCoordinates: xs, using: &first)
        let b = try Shamir.split(secret, threshold: 4, xCoordinates: xs, using: &second)
        let c = try Shamir.split(secret, threshold: 4, xCoordinates: xs, using: &third)
        #expect(a == b)
        #expect(a != c)
    }

    @Test func chunksAreLittleEndianSevenByteConstantTerms() throws {
        // With threshold 1 the polynomial is the constant chunk itself.
        let secret = SecureBytes(copying: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        var random = SeededRandom(seed: 0)
        let shares = try Shamir.split(secret, threshold: 1, xCoordinates: [42], using: &random)
        #expect(shares[0].values == [0x07_0605_0403_0201, 0x0908])
    }

    @Test func largeCoordinatesWork() throws {
        let secret = secretBytes(32, seed: 11)
        var random = SeededRandom(seed: 12)
        let xs: [UInt32] = [1, 65_535, 65_536, 4_000_000_000, UInt32.max]
        let shares = try Shamir.split(secret, threshold: 3, xCoordinates: xs, using: &random)
        let back = try Shamir.combine(Array(shares.suffix(3)), threshold: 3, secretByteCount: 32)
        #expect(back.constantTimeEquals(secret))
        #expect(try Shamir.combine(shares, threshold: 3, secretByteCount: 32).constantTimeEquals(secret))
    }

    @Test func tenThousandSharesThresholdTwenty() throws {
        let secret = secretBytes(32, seed: 13)
        var random = SeededRandom(seed: 14)
        let xs = (1...10_000).map { UInt32($0) }
        let shares = try Shamir.split(secret, threshold: 20, xCoordinates: xs, using: &random)
        // Every extra share is checked against the polynomial.
        let all = try Shamir.combine(shares.reversed(), threshold: 20, secretByteCount: 32)
        #expect(all.constantTimeEquals(secret))
    }

    @Test func twoThousandSharesThresholdOneThousand() throws {
        let secret = secretBytes(32, seed: 15)
        var random = SeededRandom(seed: 16)
        let xs = (1...2_000).map { UInt32($0 * 3) }
        let shares = try Shamir.split(secret, threshold: 1_000, xCoordinates: xs, using: &random)
        let fromLastHalf = try Shamir.combine(Array(shares[1_000...]), threshold: 1_000, secretByteCount: 32)
        #expect(fromLastHalf.constantTimeEquals(secret))
        let fromAll = try Shamir.combine(shares, threshold: 1_000, secretByteCount: 32)
        #expect(fromAll.constantTimeEquals(secret))
        #expect(throws: ShamirError.insufficientShares(available: 999, required: 1_000)) {
            try Shamir.combine(Array(shares.prefix(999)), threshold: 1_000, secretByteCount: 32)
        }
    }

    // MARK: Encoding

    @Test func encodingRoundTripsAndIsLittleEndian() throws {
        let share = ShamirShare(x: 9, values: [1, Shamir.prime - 1])
        let encoded = share.encoded
        #expect(encoded.count == 16)
        #expect(Array(encoded[0..<8]) == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(encoded[8..<16]) == [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F])
        #expect(try ShamirShare(x: 9, encoded: encoded) == share)
        #expect(try ShamirShare(x: 1, encoded: []).values.isEmpty)
        #expect(!share.description.contains("2305843009213693950"))
    }

    @Test func decodingRejectsMalformedShares() {
        #expect(throws: ShamirError.invalidCoordinate(0)) {
            try ShamirShare(x: 0, encoded: [UInt8](repeating: 0, count: 8))
        }
        #expect(throws: ShamirError.malformedShare(x: 2, reason: "length 7 is not a multiple of 8")) {
            try ShamirShare(x: 2, encoded: [UInt8](repeating: 0, count: 7))
        }
        let atPrime = ShamirShare(x: 3, values: [5, Shamir.prime]).encoded
        #expect(throws: ShamirError.malformedShare(x: 3, reason: "element 1 is not below the field prime")) {
            try ShamirShare(x: 3, encoded: atPrime)
        }
        let allOnes = [UInt8](repeating: 0xFF, count: 8)
        #expect(throws: ShamirError.malformedShare(x: 3, reason: "element 0 is not below the field prime")) {
            try ShamirShare(x: 3, encoded: allOnes)
        }
    }

    // MARK: Argument errors

    @Test func splitRejectsBadArguments() {
        let secret = secretBytes(16, seed: 1)
        var random = SeededRandom(seed: 1)
        #expect(throws: ShamirError.invalidThreshold(threshold: 0, shareCount: 3)) {
            try Shamir.split(secret, threshold: 0, xCoordinates: [1, 2, 3], using: &random)
        }
        #expect(throws: ShamirError.invalidThreshold(threshold: 4, shareCount: 3)) {
            try Shamir.split(secret, threshold: 4, xCoordinates: [1, 2, 3], using: &random)
        }
        #expect(throws: ShamirError.invalidCoordinate(0)) {
            try Shamir.split(secret, threshold: 2, xCoordinates: [1, 0, 3], using: &random)
        }
        #expect(throws: ShamirError.duplicateCoordinate(2)) {
            try Shamir.split(secret, threshold: 2, xCoordinates: [2, 1, 2], using: &random)
        }
    }

    @Test func combineRejectsBadArguments() throws {
        let secret = secretBytes(16, seed: 2)
        var random = SeededRandom(seed: 2)
        let shares = try Shamir.split(secret, threshold: 3, xCoordinates: [1, 2, 3, 4], using: &random)
        #expect(throws: ShamirError.invalidThreshold(threshold: 0, shareCount: 4)) {
            try Shamir.combine(shares, threshold: 0, secretByteCount: 16)
        }
        #expect(throws: ShamirError.insufficientShares(available: 2, required: 3)) {
            try Shamir.combine(Array(shares.prefix(2)), threshold: 3, secretByteCount: 16)
        }
        #expect(throws: ShamirError.duplicateCoordinate(1)) {
            try Shamir.combine([shares[0], shares[1], shares[0]], threshold: 3, secretByteCount: 16)
        }
        #expect(throws: ShamirError.malformedShare(x: 1, reason: "3 elements, expected 2")) {
            try Shamir.combine(shares, threshold: 3, secretByteCount: 8)
        }
    }

    // MARK: Consistency checks

    @Test func combineNamesExtraSharesOffThePolynomial() throws {
        let secret = secretBytes(32, seed: 3)
        var random = SeededRandom(seed: 3)
        var shares = try Shamir.split(secret, threshold: 3, xCoordinates: Array(1...6), using: &random)
        shares[4] = tampered(shares[4], chunk: 2)
        shares[5] = tampered(shares[5], chunk: 0)
        #expect(throws: ShamirError.inconsistentShares(xs: [5, 6])) {
            try Shamir.combine(shares, threshold: 3, secretByteCount: 32)
        }
        // The first three alone are fine.
        #expect(
            try Shamir.combine(Array(shares.prefix(3)), threshold: 3, secretByteCount: 32).constantTimeEquals(secret))
    }

    @Test func combineDetectsABadShareAmongTheFirstThresholdByChunkWidth() throws {
        let secret = secretBytes(32, seed: 4)
        var random = SeededRandom(seed: 4)
        var shares = try Shamir.split(secret, threshold: 3, xCoordinates: [10, 20, 30], using: &random)
        // The last chunk holds 4 bytes: a wrong share leaves it below 2^32 with probability 2^-29.
        shares[1] = tampered(shares[1], chunk: 4)
        #expect(throws: ShamirError.inconsistentShares(xs: [10, 20, 30])) {
            try Shamir.combine(shares, threshold: 3, secretByteCount: 32)
        }
    }

    // MARK: Robust reconstruction

    @Test func robustCombineAcceptsCleanShares() throws {
        let secret = secretBytes(32, seed: 5)
        var random = SeededRandom(seed: 5)
        let shares = try Shamir.split(secret, threshold: 4, xCoordinates: Array(1...9), using: &random)
        var calls = 0
        let result = try Shamir.robustCombine(shares, threshold: 4, secretByteCount: 32) { candidate in
            calls += 1
            return candidate.constantTimeEquals(secret)
        }
        #expect(calls == 1)
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent.isEmpty)
    }

    @Test func robustCombineSkipsBadSharesAndNamesThem() throws {
        let secret = secretBytes(32, seed: 6)
        var random = SeededRandom(seed: 6)
        var shares = try Shamir.split(
            secret, threshold: 5, xCoordinates: (1...30).map { UInt32($0 * 2) }, using: &random)
        for index in [0, 6, 12] { shares[index] = tampered(shares[index], chunk: 1) }
        var calls = 0
        let result = try Shamir.robustCombine(shares, threshold: 5, secretByteCount: 32) { candidate in
            calls += 1
            return candidate.constantTimeEquals(secret)
        }
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent == [2, 14, 26])
        // Blocks [0,5), [5,10) and [10,15) hold a bad share each; [15,20) is clean: the fourth attempt at most.
        #expect(calls <= 4)
    }

    @Test func robustCombineSearchesExhaustivelyWhenFewSubsetsExist() throws {
        let secret = secretBytes(20, seed: 7)
        var random = SeededRandom(seed: 7)
        var shares = try Shamir.split(secret, threshold: 3, xCoordinates: Array(1...6), using: &random)
        shares[0] = tampered(shares[0], chunk: 0)
        shares[2] = tampered(shares[2], chunk: 2)
        let result = try Shamir.robustCombine(shares, threshold: 3, secretByteCount: 20) {
            $0.constantTimeEquals(secret)
        }
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent == [1, 3])
    }

    @Test func robustCombineUsesPseudoRandomSubsetsWhenBlocksAreExhausted() throws {
        let secret = secretBytes(32, seed: 8)
        var random = SeededRandom(seed: 8)
        // Bad shares in every block of 4 among 12: only the random phase can find a clean subset.
        var shares = try Shamir.split(secret, threshold: 4, xCoordinates: Array(1...12), using: &random)
        for index in [1, 5, 9] { shares[index] = tampered(shares[index], chunk: 3) }
        let result = try Shamir.robustCombine(shares, threshold: 4, secretByteCount: 32, maxAttempts: 100) {
            $0.constantTimeEquals(secret)
        }
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent == [2, 6, 10])
    }

    /// Two colluding holders among the first t choose errors that cancel at 0: the secret still checks out, but the
    /// polynomial is wrong and would blame every honest holder. The support rule rejects it and finds the real one.
    @Test func robustCombineIsNotFooledByErrorsThatCancelAtZero() throws {
        let secret = secretBytes(32, seed: 17)
        var random = SeededRandom(seed: 17)
        var shares = try Shamir.split(secret, threshold: 4, xCoordinates: Array(1...10), using: &random)
        let lagrangeAtZero = LagrangeBasis(nodes: [1, 2, 3, 4]).coefficients(at: 0)
        let error1: UInt64 = 0x00AB_CDEF_0123_4567
        // error1 · λ1(0) + error2 · λ2(0) = 0.
        let error2 = PrimeField.negate(
            PrimeField.multiply(PrimeField.multiply(error1, lagrangeAtZero[0]), PrimeField.inverse(lagrangeAtZero[1])))
        shares[0] = tampered(shares[0], chunk: 2, by: error1)
        shares[1] = tampered(shares[1], chunk: 2, by: error2)
        #expect(
            try Shamir.combine(Array(shares.prefix(4)), threshold: 4, secretByteCount: 32).constantTimeEquals(secret))

        let result = try Shamir.robustCombine(shares, threshold: 4, secretByteCount: 32) {
            $0.constantTimeEquals(secret)
        }
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent == [1, 2])
    }

    @Test func robustCombineReportsMalformedSharesInsteadOfFailing() throws {
        let secret = secretBytes(14, seed: 9)
        var random = SeededRandom(seed: 9)
        var shares = try Shamir.split(secret, threshold: 2, xCoordinates: [1, 2, 3], using: &random)
        shares[0] = ShamirShare(x: 1, values: [7])
        let result = try Shamir.robustCombine(shares, threshold: 2, secretByteCount: 14) {
            $0.constantTimeEquals(secret)
        }
        #expect(result.secret.constantTimeEquals(secret))
        #expect(result.inconsistent == [1])
        #expect(throws: ShamirError.insufficientShares(available: 1, required: 2)) {
            try Shamir.robustCombine(Array(shares.prefix(2)), threshold: 2, secretByteCount: 14) { _ in true }
        }
    }

    @Test func robustCombineFailsWhenNothingPasses() throws {
        let secret = secretBytes(32, seed: 10)
        var random = SeededRandom(seed: 10)
        let shares = try Shamir.split(secret, threshold: 3, xCoordinates: Array(1...8), using: &random)
        var calls = 0
        #expect(throws: ShamirError.reconstructionFailed) {
            try Shamir.robustCombine(shares, threshold: 3, secretByteCount: 32, maxAttempts: 10) { _ in
                calls += 1
                return false
            }
        }
        #expect(calls == 10)
        #expect(throws: ShamirError.duplicateCoordinate(1)) {
            try Shamir.robustCombine([shares[0], shares[0], shares[1]], threshold: 2, secretByteCount: 32) { _ in true }
        }
    }

    // MARK: Privacy of t − 1 shares

    /// For any t − 1 shares and ANY candidate secret s there is a polynomial with constant term s through those
    /// shares: we construct its coefficients, feed them to `split` as its "random" draws, and get exactly the same
    /// t − 1 shares back. So the shares cannot favour one secret over another.
    @Test(arguments: [2, 3, 5])
    func everySecretIsConsistentWithAnyThresholdMinusOneShares(threshold: Int) throws {
        // Shares for t holders are dealt; the adversary sees the first t − 1.
        let xs: [UInt32] = Array([7, 1, 12, 30, 2][0..<threshold])
        let observedXs = Array(xs.dropLast())
        var random = SeededRandom(seed: UInt64(threshold))
        let realSecret = SecureBytes(copying: [0xDE, 0xAD, 0xBE, 0xEF])
        let observed = Array(
            try Shamir.split(realSecret, threshold: threshold, xCoordinates: xs, using: &random).dropLast())

        let candidates: [[UInt8]] = [
            [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xFF], [1, 2, 3, 4], [0xDE, 0xAD, 0xBE, 0xEF],
        ]
        for candidate in candidates {
            let constant = candidate.enumerated().reduce(UInt64(0)) {
                $0 | UInt64($1.element) << (8 * UInt64($1.offset))
            }
            // Solve Σ_j a_j x_i^j = y_i − s for a_1…a_{t−1} (a Vandermonde system, invertible for distinct nonzero x).
            let matrix = observedXs.map { x in (1..<threshold).map { PrimeField.power(UInt64(x), UInt64($0)) } }
            let rhs = observed.map { PrimeField.subtract($0.values[0], constant) }
            let coefficients = solve(matrix, rhs)
            var scripted = ScriptedRandom(words: coefficients)
            let replay = try Shamir.split(
                SecureBytes(copying: candidate), threshold: threshold, xCoordinates: xs, using: &scripted)
            #expect(Array(replay.dropLast()) == observed)
        }
    }

    /// With t = 2 a single share y = s + a·x is uniform whatever s is: the top 4 bits of share values for two very
    /// different secrets both fill 16 buckets evenly (chi-square, 15 degrees of freedom, far below the 10^-6 level).
    @Test func aSingleShareIsUniformForEverySecret() throws {
        for secretValue in [[UInt8](repeating: 0, count: 7), [UInt8](repeating: 0xFF, count: 7)] {
            let secret = SecureBytes(copying: secretValue)
            var random = SeededRandom(seed: 2024)
            var buckets = [Int](repeating: 0, count: 16)
            let samples = 3_200
            for _ in 0..<samples {
                let share = try Shamir.split(secret, threshold: 2, xCoordinates: [5, 6], using: &random)[0]
                buckets[Int(share.values[0] >> 57)] += 1
            }
            let expected = Double(samples) / 16
            let chiSquare = buckets.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
            #expect(chiSquare < 60, "buckets \(buckets)")
        }
    }

    // MARK: Helpers

    /// A copy of `share` with element `chunk` moved by `offset` (still a valid field element). The default offset
    /// is large, so the error it causes at 0 is not a small change that still fits the chunk's width.
    func tampered(_ share: ShamirShare, chunk: Int, by offset: UInt64 = 0x0123_4567_89AB_CDEF) -> ShamirShare {
        var values = share.values
        values[chunk] = PrimeField.add(values[chunk], offset)
        return ShamirShare(x: share.x, values: values)
    }

    /// Solves the square system `matrix · a = rhs` over GF(p) by Gauss–Jordan elimination.
    func solve(_ matrix: [[UInt64]], _ rhs: [UInt64]) -> [UInt64] {
        var rows = zip(matrix, rhs).map { $0 + [$1] }
        let size = rhs.count
        for column in 0..<size {
            let pivot = (column..<size).first { rows[$0][column] != 0 }!
            rows.swapAt(column, pivot)
            let inverse = PrimeField.inverse(rows[column][column])
            rows[column] = rows[column].map { PrimeField.multiply($0, inverse) }
            for row in 0..<size where row != column && rows[row][column] != 0 {
                let factor = rows[row][column]
                for entry in 0...size {
                    rows[row][entry] = PrimeField.subtract(
                        rows[row][entry], PrimeField.multiply(factor, rows[column][entry]))
                }
            }
        }
        return rows.map { $0[size] }
    }
}
