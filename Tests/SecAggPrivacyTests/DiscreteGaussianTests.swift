import Foundation
import SecAggCrypto
import Testing

@testable import SecAggPrivacy

/// The exact samplers (Canonne–Kamath–Steinke 2020): statistics against the exact distributions with fixed seeds
/// (deterministic; thresholds at about 5 standard errors or p = 10⁻⁴), exact parameter handling, and validation.
@Suite struct DiscreteGaussianTests {
    // MARK: Discrete Gaussian: moments

    /// σ² (exact rational), number of samples, seed.
    static let momentCases: [(Rational, Int, UInt64)] = [
        (try! Rational(1, 4), 200_000, 1),  // σ = 0.5
        (Rational(integer: 1), 200_000, 2),  // σ = 1
        (Rational(integer: 4), 200_000, 3),  // σ = 2
        (Rational(integer: 100), 200_000, 4),  // σ = 10
        (Rational(integer: 1_000_000), 100_000, 5),  // σ = 1000
        (Rational(integer: 1_000_000_000_000), 50_000, 6),  // σ = 10^6
    ]

    @Test(arguments: momentCases)
    func meanAndVarianceMatchTheExactDistribution(sigmaSquared: Rational, count: Int, seed: UInt64) throws {
        let sampler = try DiscreteGaussian(sigmaSquared: sigmaSquared)
        var random = try SamplerTestSupport.coin(seed)
        let samples = sampler.samples(count: count, using: &random)
        let (variance, fourth) = discreteGaussianMoments(sigmaSquared: SamplerTestSupport.double(sigmaSquared))
        let n = Double(count)
        let mean = samples.reduce(0.0) { $0 + Double($1) } / n
        let secondMoment = samples.reduce(0.0) { $0 + Double($1) * Double($1) } / n
        // The mean is 0 exactly; E[X²] = variance, with standard error √((E[X⁴] − variance²)/n).
        #expect(abs(mean) <= 5 * (variance / n).squareRoot(), "mean \(mean), variance \(variance)")
        let standardError = ((fourth - variance * variance) / n).squareRoot()
        #expect(
            abs(secondMoment - variance) <= 5 * standardError,
            "E[X²] \(secondMoment) vs exact \(variance) (se \(standardError))")
        // The discrete Gaussian's variance is at most σ² and, from σ = 1 on, equal to it to many digits.
        #expect(variance <= SamplerTestSupport.double(sigmaSquared) * (1 + 1e-12))
    }

    // MARK: Discrete Gaussian: pmf

    /// σ², seed, and whether to draw through `sample(using:)` one at a time (else the bulk `fill`).
    static let pmfCases: [(Rational, UInt64, Bool)] = [
        (try! Rational(1, 4), 11, false),  // σ = 0.5
        (Rational(integer: 1), 12, true),  // σ = 1, single-sample path
        (Rational(integer: 9), 13, false),  // σ = 3
        (try! Rational(1, 3), 14, false),  // σ² = 1/3 exactly: a non-dyadic rational
        (try! Rational(7, 2), 15, true),  // σ² = 3.5: t = ⌊√3.5⌋ + 1 = 2
    ]

    @Test(arguments: pmfCases)
    func chiSquareAgainstTheExactPMF(sigmaSquared: Rational, seed: UInt64, oneAtATime: Bool) throws {
        let sampler = try DiscreteGaussian(sigmaSquared: sigmaSquared)
        var random = try SamplerTestSupport.coin(seed)
        let count = 200_000
        let samples =
            oneAtATime
            ? (0..<count).map { _ in sampler.sample(using: &random) }
            : sampler.samples(count: count, using: &random)
        let pmf = SymmetricPMF.gaussian(sigmaSquared: SamplerTestSupport.double(sigmaSquared))
        let (statistic, degreesOfFreedom) = pmf.chiSquare(samples)
        #expect(degreesOfFreedom >= 4)
        #expect(
            statistic < SamplerTestSupport.chiSquareCritical(degreesOfFreedom: degreesOfFreedom),
            "chi-square \(statistic) with \(degreesOfFreedom) degrees of freedom")
    }

    static let tailCases: [(Rational, UInt64)] = [(Rational(integer: 1), 21), (Rational(integer: 100), 22)]

    @Test(arguments: tailCases)
    func tailsBeyondSixSigmaAreVanishinglyRare(sigmaSquared: Rational, seed: UInt64) throws {
        let sampler = try DiscreteGaussian(sigmaSquared: sigmaSquared)
        var random = try SamplerTestSupport.coin(seed)
        let count = 200_000
        let samples = sampler.samples(count: count, using: &random)
        let sigma = SamplerTestSupport.double(sigmaSquared).squareRoot()
        // P(|X| > 6σ) < 2·10⁻⁹, so 200 000 draws expect below 0.001 such values; 3σ is still common.
        let beyondSix = samples.filter { Double(abs($0)) > 6 * sigma }.count
        let beyondThree = samples.filter { Double(abs($0)) > 3 * sigma }.count
        #expect(beyondSix == 0)
        let pmf = SymmetricPMF.gaussian(sigmaSquared: SamplerTestSupport.double(sigmaSquared))
        let threshold = Int((3 * sigma).rounded(.down)) + 1
        let expected = 2 * pmf.upperTail(from: threshold) * Double(count)
        #expect(abs(Double(beyondThree) - expected) <= 5 * expected.squareRoot(), "\(beyondThree) vs \(expected)")
    }

    @Test func samplesAreSymmetric() throws {
        let sampler = try DiscreteGaussian(sigmaSquared: Rational(integer: 9))
        var random = try SamplerTestSupport.coin(31)
        let samples = sampler.samples(count: 200_000, using: &random)
        let positive = samples.filter { $0 > 0 }.count
        let negative = samples.filter { $0 < 0 }.count
        #expect(abs(positive - negative) <= 5 * Int(Double(positive + negative).squareRoot()))
        // Each magnitude splits evenly between its two signs.
        for magnitude in Int64(1)...6 {
            let up = samples.filter { $0 == magnitude }.count
            let down = samples.filter { $0 == -magnitude }.count
            #expect(abs(up - down) <= 5 * Int(Double(up + down).squareRoot()) + 1, "±\(magnitude): \(up) vs \(down)")
        }
    }

    @Test func seededSamplingIsDeterministic() throws {
        let sampler = try DiscreteGaussian(sigmaSquared: Rational(integer: 1000))
        var first = try SamplerTestSupport.coin(41)
        var second = try SamplerTestSupport.coin(41)
        var third = try SamplerTestSupport.coin(42)
        let a = sampler.samples(count: 1000, using: &first)
        let b = sampler.samples(count: 1000, using: &second)
        let c = sampler.samples(count: 1000, using: &third)
        #expect(a == b)
        #expect(a != c)
        var single = try SamplerTestSupport.coin(41)
        var singleAgain = try SamplerTestSupport.coin(41)
        #expect(
            (0..<100).map { _ in sampler.sample(using: &single) }
                == (0..<100).map { _ in sampler.sample(using: &singleAgain) })
        // fill into a caller's buffer is the same stream as samples(count:).
        var filled = [Int64](repeating: 0, count: 1000)
        var fillSource = try SamplerTestSupport.coin(41)
        filled.withUnsafeMutableBufferPointer { sampler.fill($0, using: &fillSource) }
        #expect(filled == a)
        // Production randomness works through the same generic path.
        var system = SystemRandom()
        #expect(sampler.samples(count: 10, using: &system).count == 10)
        #expect(sampler.samples(count: 0, using: &system).isEmpty)
    }

    @Test func extremeParametersStayExact() throws {
        // The largest σ² (σ = 2^31) and a σ² ≈ 1 whose numerator and denominator are both near 2^62.
        let cases: [Rational] = [
            Rational(integer: DiscreteGaussian.maximumComponent),
            try Rational(DiscreteGaussian.maximumComponent - 1, DiscreteGaussian.maximumComponent - 3),
            try Rational(1, DiscreteGaussian.maximumComponent),  // σ = 2^−31: always 0 in practice
        ]
        for (index, sigmaSquared) in cases.enumerated() {
            let sampler = try DiscreteGaussian(sigmaSquared: sigmaSquared)
            var random = try SamplerTestSupport.coin(51 + UInt64(index))
            let samples = sampler.samples(count: 4000, using: &random)
            let exact = SamplerTestSupport.double(sigmaSquared)
            let secondMoment = samples.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(samples.count)
            let variance = exact >= 1 ? exact : discreteGaussianMoments(sigmaSquared: exact).variance
            // Standard error of E[X²] is about σ²·√(2/4000) ≈ 2.2%; allow 5 of them (and an absolute floor).
            #expect(abs(secondMoment - variance) <= 0.12 * variance + 1e-9, "σ² = \(sigmaSquared): \(secondMoment)")
        }
    }

    @Test func laplaceScaleIsFloorOfSigmaPlusOne() throws {
        let cases: [(Rational, UInt64)] = [
            (try Rational(1, 4), 1), (try Rational(1, 3), 1), (Rational(integer: 1), 2), (try Rational(7, 2), 2),
            (Rational(integer: 4), 3), (try Rational(99_999, 10_000), 4), (Rational(integer: 1_000_000_000_000), 1_000_001),
            (Rational(integer: DiscreteGaussian.maximumComponent), (1 << 31) + 1),
        ]
        for (sigmaSquared, t) in cases {
            #expect(try GaussianCore(sigmaSquared: sigmaSquared).t == t, "σ² = \(sigmaSquared)")
        }
        for value in UInt64(0)...20_000 {
            let root = GaussianCore.integerSquareRoot(value)
            #expect(root * root <= value && (root + 1) * (root + 1) > value)
        }
        for value: UInt64 in [UInt64.max, 1 << 62, (1 << 62) - 1, (1 << 32) * (1 << 31) - 1, 4_294_967_295 * 4_294_967_295] {
            let root = UInt128(GaussianCore.integerSquareRoot(value))
            #expect(root * root <= UInt128(value) && (root + 1) * (root + 1) > UInt128(value), "\(value)")
        }
    }

    // MARK: Bernoulli

    static let exponentialCases: [(Rational, UInt64)] = [
        (Rational(integer: 0), 61), (try! Rational(1, 3), 62), (Rational(integer: 1), 63),
        (try! Rational(5, 2), 64), (Rational(integer: 4), 65),
    ]

    @Test(arguments: exponentialCases)
    func bernoulliOfExpMinusGammaHasTheRightFrequency(gamma: Rational, seed: UInt64) throws {
        var random = try SamplerTestSupport.coin(seed)
        let count = 200_000
        var successes = 0
        for _ in 0..<count where ExactBernoulli.sample(expMinus: gamma, using: &random) { successes += 1 }
        let p = exp(-SamplerTestSupport.double(gamma))
        if gamma.isZero {
            #expect(successes == count)
        } else {
            let standardError = (p * (1 - p) / Double(count)).squareRoot()
            #expect(abs(Double(successes) / Double(count) - p) <= 5 * standardError, "γ = \(gamma): \(successes)")
        }
    }

    static let probabilityCases: [(Rational, UInt64)] = [
        (Rational(integer: 0), 71), (Rational(integer: 1), 72), (try! Rational(1, 3), 73),
        (try! Rational(2, 7), 74), (try! Rational(1, 2), 75), (try! Rational(UInt64.max - 1, UInt64.max), 76),
    ]

    @Test(arguments: probabilityCases)
    func bernoulliOfRationalHasTheRightFrequency(probability: Rational, seed: UInt64) throws {
        var random = try SamplerTestSupport.coin(seed)
        let count = 200_000
        var successes = 0
        for _ in 0..<count where try ExactBernoulli.sample(probability: probability, using: &random) {
            successes += 1
        }
        let p = SamplerTestSupport.double(probability)
        if probability.isZero || probability.numerator == probability.denominator {
            #expect(successes == (probability.isZero ? 0 : count))
        } else {
            let standardError = (p * (1 - p) / Double(count)).squareRoot()
            #expect(abs(Double(successes) / Double(count) - p) <= 5 * standardError + 1e-12)
        }
    }

    /// The 128- and 256-bit paths used by the Gaussian acceptance step for large σ or large denominators.
    @Test func wideBernoulliPathsHaveTheRightFrequency() throws {
        var random = try SamplerTestSupport.coin(81)
        let count = 100_000
        let third: UInt128 = 1 << 100
        let denominator: UInt128 = 3 << 100
        let wideDenominator = UInt128.max - 2  // ≈ 2^128
        var bernoulliHits = 0
        var expHits = 0
        var hugeHits = 0
        withRandomBits(&random, words: 64) { bits in
            for _ in 0..<count {
                // Bernoulli(2^100 / (3·2^100)) = Bernoulli(1/3) with a 128-bit denominator.
                if bits.bernoulli(third, over: denominator) { bernoulliHits += 1 }
                // exp(−(2·(2^128 − 3) + 1)/(2^128 − 3)) ≈ exp(−2): numerator above 2^128 (high word 1).
                let numerator = wideDenominator.multipliedFullWidth(by: 2)
                let low = numerator.low &+ 1
                let high = numerator.high + (low == 0 ? 1 : 0)
                if bits.bernoulliExp(high: high, low: low, over: wideDenominator) { expHits += 1 }
                // exp(−(2^128 + 2^126)/2^127) = exp(−2.5) through the 256-bit subtraction.
                if bits.bernoulliExp(high: 1, low: 1 << 126, over: 1 << 127) { hugeHits += 1 }
            }
        }
        let n = Double(count)
        for (hits, p) in [(bernoulliHits, 1.0 / 3), (expHits, exp(-2.0)), (hugeHits, exp(-2.5))] {
            #expect(abs(Double(hits) / n - p) <= 5 * (p * (1 - p) / n).squareRoot(), "\(hits) vs \(p)")
        }
    }

    // MARK: Discrete Laplace

    static let laplaceCases: [(Rational, UInt64)] = [
        (Rational(integer: 1), 91), (try! Rational(5, 2), 92), (try! Rational(1, 2), 93), (Rational(integer: 7), 94),
    ]

    @Test(arguments: laplaceCases)
    func discreteLaplaceMatchesItsPMF(scale: Rational, seed: UInt64) throws {
        let sampler = try DiscreteLaplace(scale: scale)
        var random = try SamplerTestSupport.coin(seed)
        var samples = [Int64](repeating: 0, count: 200_000)
        samples.withUnsafeMutableBufferPointer { sampler.fill($0, using: &random) }
        let pmf = SymmetricPMF.laplace(scale: SamplerTestSupport.double(scale))
        let (statistic, degreesOfFreedom) = pmf.chiSquare(samples)
        #expect(
            statistic < SamplerTestSupport.chiSquareCritical(degreesOfFreedom: degreesOfFreedom),
            "scale \(scale): chi-square \(statistic) with \(degreesOfFreedom) degrees of freedom")
        // P(0) = (1 − q)/(1 + q) with q = exp(−1/scale).
        let q = exp(-1 / SamplerTestSupport.double(scale))
        let p0 = (1 - q) / (1 + q)
        let zeros = Double(samples.filter { $0 == 0 }.count) / Double(samples.count)
        #expect(abs(zeros - p0) <= 5 * (p0 * (1 - p0) / Double(samples.count)).squareRoot())
        var single = try SamplerTestSupport.coin(seed)
        #expect(abs(sampler.sample(using: &single)) < 1000)
    }

    // MARK: Rational

    @Test func rationalsAreExactAndReduced() throws {
        #expect(try Rational(2, 6) == Rational(1, 3))
        #expect(try Rational(2, 6).numerator == 1 && Rational(2, 6).denominator == 3)
        #expect(try Rational(0, 5) == Rational(integer: 0))
        #expect(try Rational(1, 3) < Rational(1, 2))
        #expect(try Rational(UInt64.max, 1) > Rational(UInt64.max - 1, 1))
        #expect(try Rational(7, 2).description == "7/2")
        #expect(Rational(integer: 9).description == "9")
        #expect(try DiscreteGaussian(sigmaSquared: Rational(1, 3)).sigmaSquared == Rational(1, 3))
        #expect(try DiscreteGaussian(sigma: Rational(1, 2)).sigmaSquared == Rational(1, 4))
        #expect(try DiscreteGaussian(sigma: Rational(1 << 31, 3)).sigmaSquared == Rational(1 << 62, 9))
    }

    @Test func doublesConvertToTheirExactBinaryValue() throws {
        #expect(try Rational.exactly(0.1) == Rational(3_602_879_701_896_397, 36_028_797_018_963_968))
        #expect(try Rational.exactly(2.5) == Rational(5, 2))
        #expect(try Rational.exactly(0) == Rational(integer: 0))
        #expect(try Rational.exactly(-0.0) == Rational(integer: 0))
        #expect(try Rational.exactly(1e6) == Rational(integer: 1_000_000))
        #expect(try Rational.exactly(0.75) == Rational(3, 4))
        #expect(try Rational.exactly(0x1p63) == Rational(integer: 1 << 63))
        #expect(try Rational.exactly(0x1p-63) == Rational(1, 1 << 63))
        #expect(try Rational.exactly(0x1p64) == nil)
        #expect(try Rational.exactly(0x1p-64) == nil)
        #expect(try Rational.exactly(1e30) == nil)
        #expect(try Rational.exactly(1e-30) == nil)
        #expect(try Rational.exactly(Double.leastNonzeroMagnitude) == nil)
        // Conservative rounding of computed values: never below the input.
        #expect(try Rational.roundedUp(2.5) == Rational(5, 2))
        #expect(try Rational.roundedUp(0.1, fractionalBits: 4) == Rational(1, 8))  // 2/16 ≥ 0.1
        #expect(try Rational.roundedUp(1e-30) == Rational(1, 1 << 16))
        #expect(try Rational.roundedUp(0) == Rational(integer: 0))
        #expect(try Rational.roundedUp(3.000001, fractionalBits: 0) == Rational(integer: 4))
        for value in [0.1, 1.0 / 3, 12.345678, 1e6 + 0.5, 2.0.squareRoot()] {
            let rounded = try Rational.roundedUp(value)
            #expect(SamplerTestSupport.double(rounded) >= value)
            #expect(SamplerTestSupport.double(rounded) - value < 1.0 / 65536)
        }
        #expect(throws: PrivacyError.self) { try Rational.roundedUp(-0.5) }
        #expect(throws: PrivacyError.self) { try Rational.roundedUp(1e19, fractionalBits: 16) }
        #expect(throws: PrivacyError.self) { try Rational.roundedUp(1, fractionalBits: 63) }
        #expect(throws: PrivacyError.self) { try Rational.exactly(-1) }
        #expect(throws: PrivacyError.self) { try Rational.exactly(.nan) }
        #expect(throws: PrivacyError.self) { try Rational.exactly(.infinity) }
    }

    @Test func decimalsParseExactly() throws {
        let cases: [(String, Rational?)] = [
            ("2.5", try Rational(5, 2)), ("0.001", try Rational(1, 1000)), ("10", Rational(integer: 10)),
            (".5", try Rational(1, 2)), ("5.", Rational(integer: 5)), ("1e6", Rational(integer: 1_000_000)),
            ("2.50000000000000000000000000", try Rational(5, 2)), ("1.5E-3", try Rational(3, 2000)),
            ("0", Rational(integer: 0)), ("000.000", Rational(integer: 0)), ("0e9999", Rational(integer: 0)),
            ("0.1", try Rational(1, 10)), ("18446744073709551615", Rational(integer: UInt64.max)),
            ("18446744073709551616", nil), ("1e-30", nil), ("", nil), (".", nil), ("abc", nil), ("-1", nil),
            ("+1", nil), ("1.2.3", nil), ("1e", nil), ("1/3", nil), (" 1", nil), ("1e+2", Rational(integer: 100)),
        ]
        for (text, expected) in cases {
            #expect(Rational(decimal: text) == expected, "\"\(text)\"")
        }
    }

    // MARK: Validation

    @Test func invalidParametersThrow() throws {
        #expect(throws: PrivacyError.self) { try Rational(1, 0) }
        #expect(throws: PrivacyError.self) { try DiscreteGaussian(sigmaSquared: Rational(integer: 0)) }
        #expect(throws: PrivacyError.self) {
            try DiscreteGaussian(sigmaSquared: Rational(integer: DiscreteGaussian.maximumComponent + 1))
        }
        #expect(throws: PrivacyError.self) {
            try DiscreteGaussian(sigmaSquared: Rational(1, DiscreteGaussian.maximumComponent + 1))
        }
        #expect(throws: PrivacyError.self) { try DiscreteGaussian(sigma: Rational(integer: 0)) }
        #expect(throws: PrivacyError.self) { try DiscreteGaussian(sigma: Rational(integer: (1 << 31) + 1)) }
        #expect(throws: PrivacyError.self) { try DiscreteLaplace(scale: Rational(integer: 0)) }
        #expect(throws: PrivacyError.self) {
            try DiscreteLaplace(scale: Rational(integer: DiscreteLaplace.maximumScaleNumerator + 1))
        }
        var random = try SamplerTestSupport.coin(99)
        #expect(throws: PrivacyError.self) { try ExactBernoulli.sample(probability: Rational(3, 2), using: &random) }
        // The message names the parameter.
        do {
            _ = try DiscreteGaussian(sigmaSquared: Rational(integer: 0))
            Issue.record("σ² = 0 was accepted")
        } catch let PrivacyError.invalidParameter(message) {
            #expect(message.contains("σ²"))
        }
    }
}
