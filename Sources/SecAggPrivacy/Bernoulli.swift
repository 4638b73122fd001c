import SecAggCrypto

/// Exact Bernoulli samplers with rational parameters: the building block of the discrete Laplace and discrete
/// Gaussian samplers (Canonne, Kamath, Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020,
/// arXiv 2004.00010, Algorithm 1).
///
/// Only integer arithmetic on uniformly random bits is used: no floating point, no `exp`. Each call returns
/// `true` with exactly the stated probability (given a uniform bit source). Running time depends on the random
/// bits drawn, so these samplers are not constant-time.
public enum ExactBernoulli {
    /// Returns `true` with probability exactly `probability`.
    ///
    /// Compares a uniform real `U ∈ [0, 1)`, generated lazily bit by bit, with the binary expansion of
    /// `probability` (two random bits on average).
    ///
    /// - Throws: ``PrivacyError/invalidParameter(_:)`` if `probability > 1`.
    public static func sample(
        probability: Rational, using random: inout some RandomSource
    ) throws(PrivacyError) -> Bool {
        guard probability.numerator <= probability.denominator else {
            throw .invalidParameter("Bernoulli probability \(probability) is above 1")
        }
        return withRandomBits(&random, words: 1) { bits in
            bits.bernoulli(probability.numerator, over: probability.denominator)
        }
    }

    /// Returns `true` with probability exactly `exp(−gamma)`, for any rational `gamma ≥ 0`.
    ///
    /// Algorithm 1 of Canonne–Kamath–Steinke: `exp(−γ)` is the product of `⌊γ⌋` independent
    /// Bernoulli(`exp(−1)`) draws and one Bernoulli(`exp(−(γ − ⌊γ⌋))`); for `x ∈ [0, 1]`, Bernoulli(`exp(−x)`)
    /// draws `A_k ~ Bernoulli(x/k)` for `k = 1, 2, …` until the first `A_K = 0` and returns whether `K` is odd
    /// (von Neumann's method). It stops at the first failing factor, so it is fast even for large `gamma`.
    public static func sample(expMinus gamma: Rational, using random: inout some RandomSource) -> Bool {
        withRandomBits(&random, words: 2) { bits in
            bits.bernoulliExp(UInt128(gamma.numerator), over: UInt128(gamma.denominator))
        }
    }
}

extension RandomBits {
    /// `true` with probability exactly `numerator / denominator`.
    ///
    /// Lazily compares a uniform `U ∈ [0, 1)` with `p = numerator / denominator`: the next binary digit of `p` is
    /// `⌊2r / denominator⌋` for the running remainder `r`, computed without overflow as `r ≥ denominator − r`.
    /// The first random bit that differs from `p`'s digit decides (`U < p` iff `U`'s bit is 0 there); if `p`'s
    /// expansion ends first, `U ≥ p`. Expected two random bits.
    ///
    /// - Precondition: `denominator > 0` and `numerator <= denominator`.
    @inline(__always)
    mutating func bernoulli<T: FixedWidthInteger & UnsignedInteger>(_ numerator: T, over denominator: T) -> Bool {
        if numerator >= denominator { return true }
        var remainder = numerator
        while remainder != 0 {
            let gap = denominator - remainder
            let digit: Bool
            if remainder >= gap {
                digit = true
                remainder -= gap
            } else {
                digit = false
                remainder &+= remainder
            }
            if bit() != digit { return digit }
        }
        return false
    }

    /// `true` with probability exactly `exp(−numerator/denominator)` for `numerator ≤ denominator` (γ ∈ [0, 1]):
    /// von Neumann's series (Canonne–Kamath–Steinke Algorithm 1, first part).
    ///
    /// `A_K ~ Bernoulli(γ/K)` is drawn as one comparison against `numerator / (denominator·K)`, or, if that
    /// product overflows `T`, as the product of independent Bernoulli(γ) and Bernoulli(1/K) draws (same law).
    ///
    /// - Precondition: `denominator > 0` and `numerator <= denominator`.
    @inline(__always)
    mutating func bernoulliExpUnit<T: FixedWidthInteger & UnsignedInteger>(
        _ numerator: T, over denominator: T
    ) -> Bool {
        if numerator == 0 { return true }
        var k: T = 1
        while true {
            let (scaled, overflow) = denominator.multipliedReportingOverflow(by: k)
            let success =
                overflow
                ? (bernoulli(numerator, over: denominator) && bernoulli(T(1), over: k))
                : bernoulli(numerator, over: scaled)
            if !success { return k & 1 == 1 }
            k += 1
        }
    }

    /// `true` with probability exactly `exp(−1)`: the series with γ = 1, whose first draw Bernoulli(1/1) always
    /// succeeds, so it starts at `K = 2`.
    @inline(__always)
    mutating func bernoulliExpMinusOne() -> Bool {
        var k: UInt64 = 2
        while bernoulli(UInt64(1), over: k) { k += 1 }
        return k & 1 == 1
    }

    /// `true` with probability exactly `exp(−N/denominator)` where `N = high·2^128 + low` (any size γ ≥ 0).
    ///
    /// Subtracts `denominator` from `N` once per successful Bernoulli(`exp(−1)`) draw while `N ≥ denominator`
    /// (the `⌊γ⌋` factors, stopping at the first failure), then draws Bernoulli(`exp(−r/denominator)`) for the
    /// remainder `r`. No division; `small`, if given, is `denominator` as a `UInt64` for a cheaper final step.
    ///
    /// - Precondition: `denominator > 0`.
    @inline(__always)
    mutating func bernoulliExp(
        high: UInt128 = 0, low: UInt128, over denominator: UInt128, small: UInt64? = nil
    ) -> Bool {
        var high = high
        var low = low
        while high != 0 || low >= denominator {
            guard bernoulliExpMinusOne() else { return false }
            let (difference, borrow) = low.subtractingReportingOverflow(denominator)
            low = difference
            if borrow { high -= 1 }
        }
        if let small { return bernoulliExpUnit(UInt64(truncatingIfNeeded: low), over: small) }
        return bernoulliExpUnit(low, over: denominator)
    }

    /// `true` with probability exactly `exp(−numerator/denominator)` for any rational γ ≥ 0.
    ///
    /// - Precondition: `denominator > 0`.
    mutating func bernoulliExp(_ numerator: UInt128, over denominator: UInt128) -> Bool {
        let small = denominator <= UInt128(UInt64.max) ? UInt64(denominator) : nil
        return bernoulliExp(low: numerator, over: denominator, small: small)
    }
}
