#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

import SecAggWire

// MARK: - ZCDP

/// A zero-concentrated differential privacy guarantee, ρ-zCDP (Bun and Steinke, TCC 2016): for every pair of
/// neighbouring inputs and every Rényi order α > 1, D_α(M(x) ‖ M(x′)) ≤ α · ρ.
///
/// zCDP is the accountant's currency because it composes by addition (``+``) and converts tightly to (ε, δ)
/// (``epsilon(delta:)``). Floating point is fine here: it is only used for accounting, never for sampling noise.
public struct ZCDP: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// ρ ≥ 0, finite. Smaller is more private; 0 means the output does not depend on the input.
    public let rho: Double

    /// No privacy loss.
    public static let zero = ZCDP(unchecked: 0)

    /// Wraps ρ.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless ρ is finite and ≥ 0.
    public init(rho: Double) throws(AccountingError) {
        try AccountingError.require(rho.isFinite && rho >= 0, "rho", rho, "a finite rho >= 0")
        self.rho = rho
    }

    init(unchecked rho: Double) {
        self.rho = rho
    }

    /// Decodes `{"rho": …}` and validates it like ``init(rho:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(rho: container.decode(Double.self, forKey: .rho))
    }

    /// Sequential composition (Bun and Steinke 2016): running a ρ₁-zCDP and a ρ₂-zCDP mechanism on the
    /// same data, even adaptively, is (ρ₁ + ρ₂)-zCDP. This is how rounds compose.
    public static func + (lhs: ZCDP, rhs: ZCDP) -> ZCDP {
        ZCDP(unchecked: lhs.rho + rhs.rho)
    }

    /// The composition of all `guarantees` (the sum of their ρ, compensated so that long ledgers do not drift).
    public static func composition(of guarantees: some Sequence<ZCDP>) -> ZCDP {
        ZCDP(unchecked: PrivacyAccountant.compensatedSum(guarantees.lazy.map(\.rho)))
    }

    /// Compares by ρ (smaller is more private).
    public static func < (lhs: ZCDP, rhs: ZCDP) -> Bool { lhs.rho < rhs.rho }

    /// The smallest ε such that ρ-zCDP implies (ε, δ)-DP, by the conversion of Canonne, Kamath and Steinke; see
    /// ``PrivacyAccountant/epsilon(rho:delta:)``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless 0 < δ < 1.
    public func epsilon(delta: Double) throws(AccountingError) -> Double {
        try PrivacyAccountant.epsilon(rho: rho, delta: delta)
    }

    /// The smallest δ such that ρ-zCDP implies (ε, δ)-DP; see ``PrivacyAccountant/delta(rho:epsilon:)``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless ε is finite and ≥ 0.
    public func delta(epsilon: Double) throws(AccountingError) -> Double {
        try PrivacyAccountant.delta(rho: rho, epsilon: epsilon)
    }

    /// The largest ρ whose ρ-zCDP implies (ε, δ)-DP; see ``PrivacyAccountant/largestRho(epsilon:delta:)``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for ε < 0 or δ ∉ (0, 1).
    public static func largest(epsilon: Double, delta: Double) throws(AccountingError) -> ZCDP {
        ZCDP(unchecked: try PrivacyAccountant.largestRho(epsilon: epsilon, delta: delta))
    }

    /// `"rho=…"`.
    public var description: String { "rho=\(rho)" }
}

// MARK: - Accountant

/// Where the discrete Gaussian noise of a release is added.
public enum NoisePlacement: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Each client adds N_Z(0, σ_local²) with σ_local² = σ²/t_min before masking (BRIEF §3, the default): the
    /// coordinator never sees a noise-free sum. Privacy: Kairouz, Liu and Steinke, Proposition 14.
    case distributed
    /// The coordinator adds N_Z(0, σ²) after unmasking. Privacy: Canonne, Kamath and Steinke, ρ = Δ²/(2σ²).
    case central

    /// The raw value (`"distributed"` or `"central"`).
    public var description: String { rawValue }
}

/// The zCDP accountant: the privacy of one discrete Gaussian release (central and distributed), the conversion
/// from ρ-zCDP to (ε, δ)-DP, the variance of the discrete Gaussian, and the modulus needed for a noisy sum.
///
/// All quantities are in the integer units the noise is added in (after clipping, scaling and rounding).
///
/// ## Sources
/// - **Discrete Gaussian** N_Z(0, σ²), P[X = x] ∝ exp(−x²/(2σ²)) on ℤ (Canonne, Kamath, Steinke, "The Discrete
///   Gaussian for Differential Privacy", NeurIPS 2020, arXiv 2004.00010): adding it independently to each
///   coordinate of an integer-valued query with L2 sensitivity Δ₂ is ρ-zCDP with ρ = Δ₂²/(2σ²).
/// - **Sum of n local discrete Gaussians** (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism
///   for Federated Learning with Secure Aggregation", ICML 2021, arXiv 2102.06387, Proposition 14): for σ ≥ 1/2,
///   τ = 10 · Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)), Y = Σᵢ Yᵢ with Yᵢ ~ N_Z(0, σ²)^d independent, and integer
///   vectors with ‖Δ‖₂ ≤ Δ₂, ‖Δ‖₁ ≤ Δ₁, for all α ≥ 1:
///
///       D_α(Δ + Y ‖ Y) ≤ min{ α·Δ₂²/(2nσ²) + τd,
///                             (α/2)·(Δ₂²/(nσ²) + 2Δ₁τ/(√n·σ) + τ²d),
///                             (α/2)·(Δ₂/(√n·σ) + τ√d)² }.
///
///   This is the form the authors implement (google-research/federated, `distributed_dp/accounting_utils.py`,
///   `compute_rdp_dgaussian`, citing "Proposition 14"); see
///   ``distributedRenyiBound(order:l2Sensitivity:l1Sensitivity:localSigma:summands:dimension:)``.
///   The zCDP parameter is the smallest ρ with D_α ≤ αρ for all α > 1; each term divided by α is non-increasing
///   in α, so the supremum is the limit α → 1:
///
///       ρ = min{ Δ₂²/(2nσ²) + τd,  ½(Δ₂²/(nσ²) + 2Δ₁τ/(√n·σ) + τ²d),  ½(Δ₂/(√n·σ) + τ√d)² },
///
///   i.e. ½ε²-CDP with ε = min{ √(Δ₂²/(nσ²) + 2τd), Δ₂/(√n·σ) + τ√d } (without the Δ₁ term). BRIEF §3 writes the
///   first term as √(Δ₂²/(nσ²) + ½τd); from the Rényi bound above we can only justify 2τd, which is larger, so
///   that is what is used (conservative). For σ ≥ 2, τ ≤ 7·10⁻¹⁷·n, so the τ terms (and the difference) are
///   negligible next to Δ₂²/(nσ²) unless n·d is astronomically large; they are always included.
/// - **Conversion** (Canonne, Kamath, Steinke 2020, Proposition 12 in arXiv v4; the companion code
///   `cdp2adp.py` in IBM/discrete-gaussian-differential-privacy; the same bound is in Google's `dp_accounting`):
///   ρ-zCDP implies (ε, δ)-DP for
///
///       δ = inf_{α>1} exp((α−1)(αρ−ε)) / (α−1) · (1 − 1/α)^α,
///
///   equivalently ε = inf_{α>1} αρ + log(1 − 1/α) − (log α + log δ)/(α − 1). In addition (as in `dp_accounting`),
///   KL ≤ ρ and total variation ≤ √(1 − e^{−KL}) (Bretagnolle–Huber) give (0, √(1 − e^{−ρ}))-DP, which only
///   matters for tiny ρ or large δ.
/// - **Composition**: ρ adds (Bun and Steinke 2016).
public enum PrivacyAccountant {
    /// Proposition 14 of Kairouz, Liu and Steinke holds for local σ ≥ 1/2; smaller values are rejected.
    public static let minimumLocalSigma = 0.5

    /// Local σ from which τ is negligible (τ ≤ 10·(n−1)·e^{−4π²} ≈ 7·10⁻¹⁷·n); below it calibration warns.
    public static let recommendedMinimumLocalSigma = 2.0

    // MARK: Releases

    /// ρ of one discrete Gaussian release, central mode: ρ = Δ₂²/(2σ²) (Canonne, Kamath, Steinke 2020).
    ///
    /// Holds for integer-valued queries in any dimension d when N_Z(0, σ²) is added independently to each
    /// coordinate and Δ₂ bounds the L2 distance between the query's values on neighbouring inputs.
    ///
    /// - Parameters:
    ///   - l2Sensitivity: Δ₂ ≥ 0, in integer units.
    ///   - sigma: The discrete Gaussian's scale parameter σ > 0 (its variance is slightly below σ²).
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for a negative or non-finite Δ₂ or
    ///   a non-positive σ.
    public static func discreteGaussianRho(l2Sensitivity: Double, sigma: Double) throws(AccountingError) -> Double {
        try AccountingError.require(
            l2Sensitivity.isFinite && l2Sensitivity >= 0, "l2Sensitivity", l2Sensitivity, "a finite value >= 0")
        try AccountingError.require(sigma.isFinite && sigma > 0, "sigma", sigma, "a finite sigma > 0")
        return l2Sensitivity * l2Sensitivity / (2 * sigma * sigma)
    }

    /// τ = 10 · Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)), the price of a sum of n discrete Gaussians not being a
    /// discrete Gaussian (Kairouz, Liu, Steinke 2021, Proposition 14). τ = 0 for n = 1; it grows with n and falls
    /// very fast with σ.
    ///
    /// The first 10,000 terms are summed exactly; any further terms are each bounded by the 10,001st (the terms
    /// decrease in k), so the result is never below the true τ and exceeds it by a relative
    /// e^{2π²σ²/10002} − 1 of the tail at most.
    ///
    /// - Parameters:
    ///   - localSigma: Each client's σ > 0.
    ///   - summands: n ≥ 1, the number of noise shares in the sum.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ ≤ 0 or n < 1.
    public static func distributedTau(localSigma: Double, summands: Int) throws(AccountingError) -> Double {
        try AccountingError.require(
            localSigma.isFinite && localSigma > 0, "localSigma", localSigma, "a finite sigma > 0")
        try AccountingError.require(summands >= 1, "summands", summands, "at least 1")
        if summands == 1 { return 0 }
        let c = 2 * Double.pi * Double.pi * localSigma * localSigma
        let exactTerms = min(summands - 1, tauExactTerms)
        var sum = 0.0
        for k in stride(from: exactTerms, through: 1, by: -1) {  // smallest terms first
            sum += exp(-c * Double(k) / Double(k + 1))
        }
        if summands - 1 > exactTerms {
            let next = Double(exactTerms + 1)
            sum += Double(summands - 1 - exactTerms) * exp(-c * next / (next + 1))
        }
        return 10 * sum
    }

    /// The Rényi divergence bound of Proposition 14 (Kairouz, Liu, Steinke 2021) at one order α ≥ 1, for a sum of
    /// n local N_Z(0, σ²)^d shares and a query with L2 sensitivity Δ₂ (and optionally L1 sensitivity Δ₁):
    /// min{ αΔ₂²/(2nσ²) + τd, (α/2)(Δ₂²/(nσ²) + 2Δ₁τ/(√nσ) + τ²d), (α/2)(Δ₂/(√nσ) + τ√d)² }.
    ///
    /// Exposed so the zCDP reduction in ``distributedRho(l2Sensitivity:l1Sensitivity:localSigma:survivors:dimension:)``
    /// can be checked against the source statement.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for α < 1, σ < 1/2, n < 1, d < 1,
    ///   or a negative sensitivity.
    public static func distributedRenyiBound(
        order: Double, l2Sensitivity: Double, l1Sensitivity: Double? = nil, localSigma: Double, summands: Int,
        dimension: Int
    ) throws(AccountingError) -> Double {
        try AccountingError.require(order.isFinite && order >= 1, "order", order, "a finite order >= 1")
        let terms = try distributedTerms(
            l2Sensitivity: l2Sensitivity, l1Sensitivity: l1Sensitivity, localSigma: localSigma,
            survivors: summands...summands, dimension: dimension)
        let first = order * terms.scale2 * terms.scale2 / 2 + terms.tau * terms.d
        let second =
            terms.l1Scale.map {
                order / 2 * (terms.scale2 * terms.scale2 + 2 * $0 * terms.tau + terms.tau * terms.tau * terms.d)
            } ?? .infinity
        let third =
            order / 2 * (terms.scale2 + terms.tau * terms.d.squareRoot())
            * (terms.scale2 + terms.tau * terms.d.squareRoot())
        return min(first, second, third)
    }

    /// ρ of a release in distributed mode: the sum of n local N_Z(0, σ_local²)^d shares for any number of
    /// survivors n in `survivors` (Kairouz, Liu, Steinke 2021, Proposition 14, reduced to zCDP as described in
    /// the type's documentation):
    /// ρ = min{ Δ₂²/(2nσ²) + τd, ½(Δ₂²/(nσ²) + 2Δ₁τ/(√nσ) + τ²d), ½(Δ₂/(√nσ) + τ√d)² }.
    ///
    /// The signal terms shrink and τ grows with n, so the bound valid for every n in the range uses
    /// n = `survivors.lowerBound` (t_min, the fewest survivors the round accepts) in the Δ terms and
    /// τ(`survivors.upperBound`) — the value to charge before the round, when the survivors are not yet known.
    ///
    /// - Parameters:
    ///   - l2Sensitivity: Δ₂ ≥ 0: the largest L2 distance between the integer sums of two neighbouring inputs.
    ///   - l1Sensitivity: Δ₁ ≥ 0 if known (enables the middle term); `nil` otherwise.
    ///   - localSigma: Each client's σ_local ≥ 1/2.
    ///   - survivors: The possible numbers of summed shares, lower bound ≥ 1.
    ///   - dimension: d ≥ 1, the number of coordinates.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ_local < 1/2 (outside
    ///   Proposition 14), survivors below 1, d < 1 or a negative sensitivity.
    public static func distributedRho(
        l2Sensitivity: Double, l1Sensitivity: Double? = nil, localSigma: Double, survivors: ClosedRange<Int>,
        dimension: Int
    ) throws(AccountingError) -> Double {
        let t = try distributedTerms(
            l2Sensitivity: l2Sensitivity, l1Sensitivity: l1Sensitivity, localSigma: localSigma,
            survivors: survivors, dimension: dimension)
        let first = t.scale2 * t.scale2 / 2 + t.tau * t.d
        let second = t.l1Scale.map { (t.scale2 * t.scale2 + 2 * $0 * t.tau + t.tau * t.tau * t.d) / 2 } ?? .infinity
        let root = t.scale2 + t.tau * t.d.squareRoot()
        return min(first, second, root * root / 2)
    }

    /// The pieces of Proposition 14: Δ₂/(√n·σ), Δ₁/(√n·σ), τ and d.
    private static func distributedTerms(
        l2Sensitivity: Double, l1Sensitivity: Double?, localSigma: Double, survivors: ClosedRange<Int>,
        dimension: Int
    ) throws(AccountingError) -> (scale2: Double, l1Scale: Double?, tau: Double, d: Double) {
        try AccountingError.require(
            l2Sensitivity.isFinite && l2Sensitivity >= 0, "l2Sensitivity", l2Sensitivity, "a finite value >= 0")
        if let l1Sensitivity {
            try AccountingError.require(
                l1Sensitivity.isFinite && l1Sensitivity >= 0, "l1Sensitivity", l1Sensitivity, "a finite value >= 0")
        }
        try AccountingError.require(
            localSigma.isFinite && localSigma >= minimumLocalSigma, "localSigma", localSigma,
            "a finite sigma >= 1/2 (Kairouz-Liu-Steinke Proposition 14)")
        try AccountingError.require(survivors.lowerBound >= 1, "survivors", survivors.lowerBound, "at least 1")
        try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
        let denominator = Double(survivors.lowerBound).squareRoot() * localSigma
        let tau = try distributedTau(localSigma: localSigma, summands: survivors.upperBound)
        return (l2Sensitivity / denominator, l1Sensitivity.map { $0 / denominator }, tau, Double(dimension))
    }

    // MARK: Conversion to (ε, δ)

    /// The smallest ε such that ρ-zCDP implies (ε, δ)-DP, by Canonne, Kamath and Steinke (2020, Proposition 12):
    /// ε = inf_{α>1} αρ + log(1 − 1/α) − (log α + log δ)/(α − 1), and ε = 0 when δ ≥ √(1 − e^{−ρ}).
    ///
    /// Computed over a = α − 1 in log space (a grid over a ∈ [e^−40, e^80] with step 0.05 in log a, then golden
    /// section around the best grid point), with every term written to stay accurate for α near 1 (large ρ) and
    /// α huge (tiny ρ). Any α yields a valid bound, so an imperfect minimisation can only make ε slightly larger,
    /// never unsafe. ρ = 0 gives 0; ρ = +∞ gives +∞.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for ρ < 0 or NaN, or δ ∉ (0, 1).
    public static func epsilon(rho: Double, delta: Double) throws(AccountingError) -> Double {
        try AccountingError.require(rho >= 0, "rho", rho, "rho >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        if rho == 0 { return 0 }
        if rho == .infinity { return .infinity }
        if delta >= (-expm1(-rho)).squareRoot() { return 0 }
        let logInverseDelta = -log(delta)
        // ε as a function of u = log(α − 1).
        func bound(_ u: Double) -> Double {
            let a = exp(u)
            return (1 + a) * rho - log1p(1 / a) + (logInverseDelta - log1p(a)) / a
        }
        let (_, best) = minimiseOverLogScale(bound)
        return max(0, best)
    }

    /// The smallest δ such that ρ-zCDP implies (ε, δ)-DP (Canonne, Kamath and Steinke 2020, Proposition 12):
    /// δ = min{ inf_{α>1} exp((α−1)(αρ−ε) + α·log(1 − 1/α)) / (α−1), √(1 − e^{−ρ}), 1 }.
    ///
    /// The exponent is convex in α (its derivative (2α−1)ρ − ε + log(1 − 1/α) is increasing), so the minimiser is
    /// found by bisection on that derivative, in log(α − 1).
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for ρ < 0 or NaN, or ε negative or
    ///   not finite.
    public static func delta(rho: Double, epsilon: Double) throws(AccountingError) -> Double {
        try AccountingError.require(rho >= 0, "rho", rho, "rho >= 0")
        try AccountingError.require(epsilon.isFinite && epsilon >= 0, "epsilon", epsilon, "a finite epsilon >= 0")
        if rho == 0 { return 0 }
        if rho == .infinity { return 1 }
        let totalVariation = (-expm1(-rho)).squareRoot()
        // derivative of the exponent in α, with a = α − 1 (log(1 − 1/α) = −log1p(1/a))
        func slope(_ a: Double) -> Double { (2 * a + 1) * rho - epsilon - log1p(1 / a) }
        var low = -40.0  // log a with slope < 0 (it tends to −∞ as a → 0)
        while slope(exp(low)) >= 0, low > -700 { low -= 40 }
        var high = log((epsilon + 1) / (2 * rho) + 1)  // α ≥ 2 here and the slope is > 0
        for _ in 0..<200 where high - low > 1e-15 * max(1, abs(high)) {
            let middle = (low + high) / 2
            if slope(exp(middle)) < 0 { low = middle } else { high = middle }
        }
        func logBound(_ a: Double) -> Double {
            let alpha = 1 + a
            return a * (alpha * rho - epsilon) - alpha * log1p(1 / a) - log(a)
        }
        let best = min(logBound(exp(low)), logBound(exp(high)))
        return min(1, totalVariation, exp(best))
    }

    /// The simpler classical bound ε = ρ + 2√(ρ·log(1/δ)) (Bun and Steinke 2016, Proposition 1.3); always at least
    /// ``epsilon(rho:delta:)``. Kept for comparison and for documentation of the gain.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for ρ < 0 or NaN, or δ ∉ (0, 1).
    public static func simpleEpsilon(rho: Double, delta: Double) throws(AccountingError) -> Double {
        try AccountingError.require(rho >= 0, "rho", rho, "rho >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        return rho + 2 * (rho * -log(delta)).squareRoot()
    }

    /// The largest ρ such that ρ-zCDP implies (ε, δ)-DP under ``epsilon(rho:delta:)``: the total zCDP budget of a
    /// task that declares (ε, δ).
    ///
    /// Bisection on ρ (ε(ρ, δ) is non-decreasing in ρ) to a relative width of 10⁻¹⁴, returning the lower end, so
    /// `epsilon(rho: largestRho(epsilon: e, delta: d), delta: d) <= e` always holds.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for ε negative or not finite, or
    ///   δ ∉ (0, 1).
    public static func largestRho(epsilon: Double, delta: Double) throws(AccountingError) -> Double {
        try AccountingError.require(epsilon.isFinite && epsilon >= 0, "epsilon", epsilon, "a finite epsilon >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        var low = 0.0
        var high = max(1.0, epsilon + 1)
        while try Self.epsilon(rho: high, delta: delta) <= epsilon {
            low = high
            high *= 2
            if high > 1e300 { return low }
        }
        for _ in 0..<400 where high - low > 1e-14 * high {
            let middle = (low + high) / 2
            if try Self.epsilon(rho: middle, delta: delta) <= epsilon { low = middle } else { high = middle }
        }
        return low
    }

    // MARK: Error

    /// The variance of the discrete Gaussian N_Z(0, σ²), Σ x²e^{−x²/(2σ²)} / Σ e^{−x²/(2σ²)}, which is strictly below
    /// σ² (Canonne, Kamath, Steinke 2020) but equal to it in double precision once σ ≳ 2.
    ///
    /// Summed exactly over |x| ≤ 40σ + 1 for σ ≤ 100 (the rest is below e^{−800}); σ² beyond (the relative deficit
    /// is below e^{−2π²σ²}). σ = 0 gives 0.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ negative or not finite.
    public static func discreteGaussianVariance(sigma: Double) throws(AccountingError) -> Double {
        try AccountingError.require(sigma.isFinite && sigma >= 0, "sigma", sigma, "a finite sigma >= 0")
        if sigma == 0 { return 0 }
        if sigma > 100 { return sigma * sigma }
        let twoSigmaSquared = 2 * sigma * sigma
        let limit = Int((40 * sigma).rounded(.up)) + 1
        var numerator = 0.0
        var denominator = 0.0
        for x in stride(from: limit, through: 1, by: -1) {  // smallest terms first
            let square = Double(x) * Double(x)
            let weight = exp(-square / twoSigmaSquared)
            numerator += 2 * square * weight
            denominator += 2 * weight
        }
        return numerator / (denominator + 1)
    }

    /// The root-mean-square error per coordinate that the noise adds to a released sum, in integer units.
    ///
    /// - Central: √Var(N_Z(0, σ²)) ≈ σ, whatever the number of survivors.
    /// - Distributed: √(n · Var(N_Z(0, σ_local²))) ≈ √n · σ_local for n survivors (≥ σ when n ≥ t_min).
    ///
    /// Rounding and clipping add to the error of the decoded values; see
    /// ``PrivacyCalibration/predictedRMSE(survivors:roundingVariancePerClient:)``.
    ///
    /// - Parameters:
    ///   - placement: Where the noise is added.
    ///   - sigma: Central: σ. Distributed: σ_local, each client's parameter.
    ///   - survivors: n ≥ 1, the clients whose inputs (and noise shares) are in the sum.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ negative or n < 1.
    public static func noiseRMSE(placement: NoisePlacement, sigma: Double, survivors: Int) throws(AccountingError)
        -> Double
    {
        try AccountingError.require(survivors >= 1, "survivors", survivors, "at least 1")
        let variance = try discreteGaussianVariance(sigma: sigma)
        switch placement {
        case .central: return variance.squareRoot()
        case .distributed: return (Double(survivors) * variance).squareRoot()
        }
    }

    // MARK: Modulus

    /// The smallest modulus 2^bits in which a noisy sum decodes correctly with high probability, and the
    /// wrap-around probability it guarantees.
    ///
    /// ## Rule
    /// Lanes are decoded as signed (centred) integers, so a coordinate S of the sum is recovered exactly whenever
    /// |S| < 2^(bits−1) (true for either signed lift, [−2^(bits−1), 2^(bits−1)) or (−2^(bits−1), 2^(bits−1)]; the
    /// encoders' ``EncoderBitsCheck`` uses the same criterion, of which this is the case without a sub-Gaussian
    /// signal part, with the noise margin rounded up to an integer). With n summands each in [−B, B] per
    /// coordinate, the inputs' sum satisfies |Σxᵢ| ≤ n·B always; the noise Z (a sum of independent discrete
    /// Gaussians with parameters σᵢ) is s²-subgaussian with s² = Σσᵢ² (Canonne, Kamath, Steinke 2020: N_Z(0, σ²) is
    /// σ²-subgaussian; subgaussian parameters add), so P[|Z| ≥ k·s] ≤ 2·exp(−k²/2). The rule is
    ///
    ///     bits = the smallest integer with 2^(bits−1) > M,   M = n·B + ⌈k·s⌉,
    ///
    /// i.e. 2^bits ≥ 2·M + 2. Then a coordinate wraps only if |Z| > k·s: probability ≤ 2·exp(−k²/2) per coordinate
    /// (2.5·10⁻¹⁴ at k = 8, the protocol's margin) and ≤ d·2·exp(−k²/2) for the whole vector (union bound). Choose k with
    /// ``standardDeviations(forWrapProbability:dimension:)`` to bound the per-vector probability instead.
    /// (TFF's rule 2^(2·bits) ≥ n·k², BRIEF §2, is a heuristic for its rotated, subgaussian inputs; this rule
    /// bounds the signal deterministically.)
    ///
    /// - Parameters:
    ///   - summands: n ≥ 1, the most inputs that can be summed (all clients that may survive).
    ///   - coordinateBound: B ≥ 0, the largest |coordinate| of one encoded input, in integer units.
    ///   - noiseSigma: s ≥ 0, the noise of the largest possible sum: central σ, or σ_local·√n in distributed mode.
    ///   - standardDeviations: k > 0, the noise margin in units of s (default 8, what round validation demands:
    ///     ``NoisySumModulus`` is the one rule both use; a smaller k gives a width the protocol refuses).
    ///   - dimension: d ≥ 1, for the per-vector probability.
    ///   - maximumBits: The largest allowed modulus exponent (default 64, the lane width).
    /// - Throws: ``AccountingError/insufficientBits(requiredBits:maximumBits:signalBound:noiseMargin:)`` if no
    ///   bits ≤ `maximumBits` suffice; ``AccountingError/invalidParameter(name:value:requirement:)`` for an
    ///   argument out of range.
    public static func requiredBits(
        summands: Int, coordinateBound: Int, noiseSigma: Double,
        standardDeviations: Double = NoisySumModulus.standardDeviations, dimension: Int = 1,
        maximumBits: Int = 64
    ) throws(AccountingError) -> ModularBitsRequirement {
        try AccountingError.require(summands >= 1, "summands", summands, "at least 1")
        try AccountingError.require(coordinateBound >= 0, "coordinateBound", coordinateBound, "at least 0")
        try AccountingError.require(
            noiseSigma.isFinite && noiseSigma >= 0, "noiseSigma", noiseSigma, "a finite value >= 0")
        try AccountingError.require(
            standardDeviations.isFinite && standardDeviations > 0, "standardDeviations", standardDeviations,
            "a finite k > 0")
        try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
        try AccountingError.require(maximumBits >= 1 && maximumBits <= 64, "maximumBits", maximumBits, "1...64")
        let (signal, signalOverflow) = UInt64(summands).multipliedReportingOverflow(by: UInt64(coordinateBound))
        let signalText = signalOverflow ? "\(summands) * \(coordinateBound)" : "\(signal)"
        guard !signalOverflow, let margin = NoisySumModulus.noiseMargin(
            noiseStandardDeviation: noiseSigma, standardDeviations: standardDeviations)
        else {
            throw .insufficientBits(
                requiredBits: Int.max, maximumBits: maximumBits, signalBound: signalText,
                noiseMargin: accountingFormatted((standardDeviations * noiseSigma).rounded(.up)))
        }
        // The protocol's own rule (round validation enforces it with k = 8), not a copy of it.
        let bits = NoisySumModulus.requiredBits(
            signalBound: signal, noiseStandardDeviation: noiseSigma, standardDeviations: standardDeviations)
        guard bits <= maximumBits else {
            throw .insufficientBits(
                requiredBits: bits > 64 ? Int.max : bits, maximumBits: maximumBits, signalBound: signalText,
                noiseMargin: "\(margin)")
        }
        let perCoordinate = noiseSigma == 0 ? 0 : min(1, 2 * exp(-standardDeviations * standardDeviations / 2))
        return ModularBitsRequirement(
            bits: bits, signalBound: signal, noiseMargin: margin, standardDeviations: standardDeviations,
            dimension: dimension, wrapProbabilityPerCoordinate: perCoordinate,
            wrapProbabilityPerVector: min(1, Double(dimension) * perCoordinate))
    }

    /// An upper bound on the probability that a noisy sum wraps around modulo 2^bits (same model as
    /// ``requiredBits(summands:coordinateBound:noiseSigma:standardDeviations:dimension:maximumBits:)``): with
    /// t = 2^(bits−1) − n·B, a coordinate wraps only if |Z| ≥ t, so the bound is min(1, d · 2·exp(−t²/(2s²))), and
    /// 1 if t ≤ 0. Use it to check a configured `bits`.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for an argument out of range.
    public static func wrapProbability(
        bits: Int, summands: Int, coordinateBound: Int, noiseSigma: Double, dimension: Int = 1
    ) throws(AccountingError) -> Double {
        try AccountingError.require(bits >= 1 && bits <= 64, "bits", bits, "1...64")
        try AccountingError.require(summands >= 1, "summands", summands, "at least 1")
        try AccountingError.require(coordinateBound >= 0, "coordinateBound", coordinateBound, "at least 0")
        try AccountingError.require(
            noiseSigma.isFinite && noiseSigma >= 0, "noiseSigma", noiseSigma, "a finite value >= 0")
        try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
        let half = Double(sign: .plus, exponent: bits - 1, significand: 1)
        let signal = Double(summands) * Double(coordinateBound)
        let room = half - signal
        if room <= 0 { return 1 }
        if noiseSigma == 0 { return 0 }
        return min(1, Double(dimension) * 2 * exp(-room * room / (2 * noiseSigma * noiseSigma)))
    }

    /// The k for which the per-vector wrap-around bound d · 2·exp(−k²/2) equals `probability`:
    /// k = √(2·ln(2d/p)).
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless 0 < p < 1 and d ≥ 1.
    public static func standardDeviations(forWrapProbability probability: Double, dimension: Int = 1)
        throws(AccountingError) -> Double
    {
        try AccountingError.require(probability > 0 && probability < 1, "probability", probability, "0 < p < 1")
        try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
        return (2 * log(2 * Double(dimension) / probability)).squareRoot()
    }

    // MARK: Numerics

    /// Neumaier's compensated sum, so ledgers of many small ρ add up to the correctly rounded total.
    static func compensatedSum(_ values: some Sequence<Double>) -> Double {
        var sum = 0.0
        var compensation = 0.0
        for value in values {
            let t = sum + value
            if abs(sum) >= abs(value) {
                compensation += (sum - t) + value
            } else {
                compensation += (value - t) + sum
            }
            sum = t
        }
        return sum + compensation
    }

    /// Terms of τ summed one by one before the tail bound takes over.
    static let tauExactTerms = 10_000

    /// Minimises `f` over u ∈ [−40, 80]: a grid with step 0.05, then golden section in the best cell's
    /// neighbourhood. Returns the argument and the smallest value seen.
    static func minimiseOverLogScale(_ f: (Double) -> Double) -> (Double, Double) {
        let step = 0.05
        var bestU = -40.0
        var bestValue = Double.infinity
        var u = -40.0
        while u <= 80 {
            let value = f(u)
            if value < bestValue {
                bestValue = value
                bestU = u
            }
            u += step
        }
        var low = bestU - step
        var high = bestU + step
        let ratio = (5.0.squareRoot() - 1) / 2
        var x1 = high - ratio * (high - low)
        var x2 = low + ratio * (high - low)
        var f1 = f(x1)
        var f2 = f(x2)
        for _ in 0..<100 where high - low > 1e-13 {
            if f1 <= f2 {
                high = x2
                x2 = x1
                f2 = f1
                x1 = high - ratio * (high - low)
                f1 = f(x1)
            } else {
                low = x1
                x1 = x2
                f1 = f2
                x2 = low + ratio * (high - low)
                f2 = f(x2)
            }
        }
        for (candidate, value) in [(x1, f1), (x2, f2)] where value < bestValue {
            bestValue = value
            bestU = candidate
        }
        return (bestU, bestValue)
    }
}

/// The result of
/// ``PrivacyAccountant/requiredBits(summands:coordinateBound:noiseSigma:standardDeviations:dimension:maximumBits:)``:
/// the modulus exponent and what it guarantees.
public struct ModularBitsRequirement: Sendable, Hashable, Codable {
    /// The smallest bits with 2^(bits−1) > ``signalBound`` + ``noiseMargin``.
    public let bits: Int
    /// n · B: the largest possible |sum of inputs| per coordinate, in integer units.
    public let signalBound: UInt64
    /// ⌈k · s⌉: the room reserved for the noise.
    public let noiseMargin: UInt64
    /// k, the margin in units of the noise's subgaussian parameter s.
    public let standardDeviations: Double
    /// d, the number of coordinates the per-vector bound covers.
    public let dimension: Int
    /// An upper bound on P[one coordinate wraps]: 2·exp(−k²/2) (0 without noise).
    public let wrapProbabilityPerCoordinate: Double
    /// An upper bound on P[any coordinate wraps]: min(1, d · 2·exp(−k²/2)).
    public let wrapProbabilityPerVector: Double
}
