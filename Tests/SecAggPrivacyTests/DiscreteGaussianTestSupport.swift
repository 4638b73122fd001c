import Foundation
import SecAggCrypto
import SecAggPrivacy

/// Helpers for the exact-sampler tests: seeded randomness and the exact distributions, computed in floating point
/// (the tests may use floating point; the samplers may not). Namespaced to stay clear of other suites' helpers.
enum SamplerTestSupport {
    /// A reproducible ChaCha20 stream (``PublicCoin``) keyed by BLAKE2b of a label and `seed`.
    static func coin(_ seed: UInt64) throws -> PublicCoin {
        var material = Array("secagg/tests/discrete-gaussian".utf8)
        withUnsafeBytes(of: seed.littleEndian) { material.append(contentsOf: $0) }
        return try PublicCoin(seed: Blake2b.hash(material, outputByteCount: 32))
    }

    /// `value` as a `Double` (test-side only).
    static func double(_ value: Rational) -> Double {
        Double(value.numerator) / Double(value.denominator)
    }

    /// Upper critical value of the chi-square distribution with `degreesOfFreedom` at p = 10⁻⁴
    /// (Wilson–Hilferty; accurate to a few percent, which is plenty for a threshold).
    static func chiSquareCritical(degreesOfFreedom k: Int) -> Double {
        let z = 3.719  // standard normal upper 10⁻⁴ quantile
        let kk = Double(k)
        let term = 1 - 2 / (9 * kk) + z * (2 / (9 * kk)).squareRoot()
        return kk * term * term * term
    }
}

/// A symmetric pmf on the integers given by unnormalised weights `w(|x|)`, tabulated up to a cutoff beyond which
/// the weights are negligible (below 10⁻³⁰ of the total).
struct SymmetricPMF {
    /// `w(0), w(1), …, w(cutoff)`.
    private let weights: [Double]

    /// `Σ_{x ∈ Z} w(|x|)`.
    private let normalizer: Double

    init(cutoff: Int, weight: (Int) -> Double) {
        weights = (0...cutoff).map(weight)
        normalizer = weights[0] + 2 * weights.dropFirst().reduce(0, +)
    }

    /// The discrete Gaussian `N_Z(0, σ²)`: `w(x) = exp(−x²/(2σ²))`.
    static func gaussian(sigmaSquared: Double) -> SymmetricPMF {
        let cutoff = Int((12 * sigmaSquared.squareRoot()).rounded(.up)) + 40
        return SymmetricPMF(cutoff: cutoff) { x in exp(-Double(x * x) / (2 * sigmaSquared)) }
    }

    /// The discrete Laplace distribution: `w(x) = exp(−|x|/scale)`.
    static func laplace(scale: Double) -> SymmetricPMF {
        let cutoff = Int((80 * scale).rounded(.up)) + 40
        return SymmetricPMF(cutoff: cutoff) { x in exp(-Double(x) / scale) }
    }

    /// `P(X = x)`.
    func probability(_ x: Int) -> Double {
        let magnitude = abs(x)
        return magnitude < weights.count ? weights[magnitude] / normalizer : 0
    }

    /// `P(X ≥ m)` for `m ≥ 1` (equal to `P(X ≤ −m)`).
    func upperTail(from m: Int) -> Double {
        weights.dropFirst(m).reduce(0, +) / normalizer
    }

    /// Chi-square statistic of `samples` against this pmf, with one bin per value in `(−M, M)` and the two pooled
    /// tails `x ≤ −M` and `x ≥ M`, where `M` is the largest value whose own expected count is at least 5 (so every
    /// bin expects at least 5). Returns the statistic and the degrees of freedom (bins − 1).
    func chiSquare(_ samples: [Int64]) -> (statistic: Double, degreesOfFreedom: Int) {
        let total = Double(samples.count)
        var m = 1
        while m + 1 < weights.count, total * probability(m + 1) >= 5 { m += 1 }
        var counts = [Int](repeating: 0, count: 2 * m + 1)  // index x + m for x in −m ... m (ends are the tails)
        for sample in samples {
            let clamped = Int(max(-Int64(m), min(Int64(m), sample)))
            counts[clamped + m] += 1
        }
        var statistic = 0.0
        for index in counts.indices {
            let x = index - m
            let expected = total * (abs(x) == m ? upperTail(from: m) : probability(x))
            let difference = Double(counts[index]) - expected
            statistic += difference * difference / expected
        }
        return (statistic, counts.count - 1)
    }
}

/// Exact variance and fourth moment of `N_Z(0, σ²)`, by summing the pmf (streaming, so large σ needs no table).
func discreteGaussianMoments(sigmaSquared: Double) -> (variance: Double, fourthMoment: Double) {
    let cutoff = Int((12 * sigmaSquared.squareRoot()).rounded(.up)) + 40
    var normalizer = 1.0
    var second = 0.0
    var fourth = 0.0
    for x in 1...cutoff {
        let value = Double(x)
        let weight = exp(-value * value / (2 * sigmaSquared))
        normalizer += 2 * weight
        second += 2 * value * value * weight
        fourth += 2 * value * value * value * value * weight
    }
    return (second / normalizer, fourth / normalizer)
}
