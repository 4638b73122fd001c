import SecAggCrypto

/// The exact discrete Laplace distribution on the integers, `P(x) ∝ exp(−|x| / scale)` for a rational
/// `scale > 0` (Canonne, Kamath, Steinke 2020, Algorithm 2).
///
/// It is the proposal distribution of ``DiscreteGaussian`` and a pure-DP mechanism of its own (noise of scale
/// `Δ/ε` gives ε-DP for integer queries of sensitivity Δ). With `scale = t/s` in lowest terms, one attempt:
///
/// 1. draw `U` uniform in `{0, …, t−1}` and `D ~ Bernoulli(exp(−U/t))`; if `D = 0`, start again;
/// 2. count `V`, the number of successes of independent Bernoulli(`exp(−1)`) draws before the first failure;
/// 3. `X = U + t·V` (geometric with ratio `exp(−1/t)`), `Y = ⌊X/s⌋`;
/// 4. draw a sign bit `B`; if `B = 1` and `Y = 0`, start again; otherwise return `(1 − 2B)·Y`.
///
/// All arithmetic is on integers. The running time depends on the sample, so the sampler is not constant-time.
public struct DiscreteLaplace: Sendable {
    /// The scale `t/s`: the pmf is proportional to `exp(−|x|/scale)`.
    public let scale: Rational

    /// The largest supported scale numerator `t`: keeps `U` within 32 bits and, with the cap on `V`, every
    /// intermediate value below 2^63.
    public static let maximumScaleNumerator: UInt64 = 1 << 32

    /// The numerator `t` of the scale.
    private let t: UInt64

    /// The denominator `s` of the scale.
    private let s: UInt64

    /// The bit length of `t − 1`, for drawing `U`.
    private let uniformBitCount: Int

    /// The count of `V` at which the magnitude would exceed 2^62 (see ``RandomBits/laplaceMagnitude``).
    private let cap: UInt64

    /// A sampler for the discrete Laplace distribution of the given scale.
    ///
    /// - Throws: ``PrivacyError/invalidParameter(_:)`` if `scale` is zero or its numerator (in lowest terms)
    ///   exceeds ``maximumScaleNumerator``.
    public init(scale: Rational) throws(PrivacyError) {
        guard !scale.isZero else {
            throw .invalidParameter("discrete Laplace scale must be positive, got 0")
        }
        guard scale.numerator <= Self.maximumScaleNumerator else {
            throw .invalidParameter(
                "discrete Laplace scale \(scale): its numerator must be at most 2^32 in lowest terms")
        }
        self.scale = scale
        t = scale.numerator
        s = scale.denominator
        uniformBitCount = RandomBits.bitCount(below: t)
        cap = RandomBits.geometricCap(scale: t)
    }

    /// One sample.
    ///
    /// - Precondition (unreachable in practice): the geometric part stays below its cap, which fails with
    ///   probability below `exp(−2^30)`; the magnitude would then not fit the 64-bit result.
    public func sample(using random: inout some RandomSource) -> Int64 {
        withRandomBits(&random, words: 4) { bits in sample(&bits) }
    }

    /// Fills `buffer` with independent samples, drawing randomness in large chunks (faster than repeated
    /// ``sample(using:)``).
    public func fill(_ buffer: UnsafeMutableBufferPointer<Int64>, using random: inout some RandomSource) {
        guard !buffer.isEmpty else { return }
        withRandomBits(&random, words: RandomBits.chunkWords(for: buffer.count)) { bits in
            for index in buffer.indices { buffer[index] = sample(&bits) }
        }
    }

    /// Algorithm 2 on a bit stream.
    private func sample(_ bits: inout RandomBits) -> Int64 {
        while true {
            guard let magnitude = bits.laplaceMagnitude(scale: t, uniformBitCount: uniformBitCount, cap: cap) else {
                preconditionFailure("discrete Laplace: geometric count reached 2^62/t (probability < exp(-2^30))")
            }
            let value = magnitude / s
            let negative = bits.bit()
            if negative && value == 0 { continue }
            return negative ? -Int64(value) : Int64(value)
        }
    }
}

extension RandomBits {
    /// The count of the geometric part `V` at which ``laplaceMagnitude(scale:uniformBitCount:cap:)`` stops:
    /// `⌊2^62/t⌋ + 1`, so a returned `U + t·V` is below `t + 2^62 ≤ 2^63`, and stopping means the true magnitude
    /// is above 2^62. For `t ≤ 2^32` the cap is at least 2^30, reached with probability `exp(−cap) < exp(−2^30)`.
    static func geometricCap(scale t: UInt64) -> UInt64 {
        (1 << 62) / t + 1
    }

    /// Steps 1–3 of Algorithm 2 before the division by `s`: `X = U + t·V`, geometric with ratio `exp(−1/t)`,
    /// `P(X = x) ∝ exp(−x/t)` for `x ≥ 0`. Returns `nil` if `V` reaches `cap` (then `X > 2^62`).
    ///
    /// - Precondition: `1 <= t <= 2^32`, `uniformBitCount == RandomBits.bitCount(below: t)`,
    ///   `cap == RandomBits.geometricCap(scale: t)`.
    @inline(__always)
    mutating func laplaceMagnitude(scale t: UInt64, uniformBitCount: Int, cap: UInt64) -> UInt64? {
        while true {
            let u = uniform(below: t, bitCount: uniformBitCount)
            guard bernoulliExpUnit(u, over: t) else { continue }
            var v: UInt64 = 0
            while bernoulliExpMinusOne() {
                v += 1
                if v == cap { return nil }
            }
            return u + t * v
        }
    }

    /// A chunk size (in 64-bit words) for bulk sampling of `count` values: enough for a few hundred bits per
    /// value, at most 4 KiB on the stack.
    static func chunkWords(for count: Int) -> Int {
        min(512, max(4, count.multipliedReportingOverflow(by: 4).overflow ? 512 : count * 4))
    }
}
