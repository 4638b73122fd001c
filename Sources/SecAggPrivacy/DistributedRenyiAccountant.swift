#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A tighter accountant for distributed discrete Gaussian noise: the Rényi divergence of the actual sum of t_min
/// local N_Z(0, σ²) shares, bounded through an exact structure of that sum, composed over rounds as a Rényi curve
/// and converted to (ε, δ) directly (no zCDP reduction).
///
/// The structure. For S = X₁ + … + X_n with X_i iid N_Z(0, σ²), writing x = (s/n)·1 + y with y ⊥ 1,
/// P(S = s) = c · h(s) · g(s), g(s) = exp(−s²/(2nσ²)), where h(s) = Σ_{x∈ℤⁿ, Σx=s} exp(−‖x − (s/n)1‖²/(2σ²)) is
/// periodic with period n. Poisson summation over the lattice gives h(s) = c′ Σ_{r=0}^{n−1} D_r cos(2πrs/n) with
/// D_r = Σ_{m∈ℤⁿ, Σm=r} exp(−2π²σ²‖m − (r/n)1‖²) ≥ 0, D_r = D_{n−r} and D_0 ≥ 1. Each D_r is bounded by Chernoff:
/// with q = 2π²σ² and θ(z) = Σ_j e^{−qj²} z^j, D_r = e^{q r²/n}·[z^r]θ(z)ⁿ ≤ e^{q r²/n}·θ(z)ⁿ z^{−r} for every
/// z > 0 (all terms are positive), minimised over z per r — any z gives a valid bound, so the minimisation need not
/// be exact. Two sums of these bounds matter (``aliasing(localSigma:summands:)``):
/// - E = Σ_{r≠0} D_r / D_0, so h stays within c′D_0·[1 − E, 1 + E];
/// - the slope: taking each frequency r at its lowest alias r′ = min(r, n − r), h extends to a smooth function of a
///   real argument that agrees with h on the integers, whose logarithm changes by at most
///   λ = (2π/n)·Σ_{r≠0} r′D_r / (D_0·(1 − E)) per unit. So h(s + k)/h(s) ≤ e^{λ|k|}: h barely moves over the
///   width of the sum (period n ≫ √n·σ).
///
/// The bound. For an integer shift k of one coordinate and α > 1:
/// Σ_s P(s)·(P(s + k)/P(s))^α ≤ e^{αλ|k|}·e^{α(α−1)k²/(2nσ²)}·Σ_s c·h(s)·g(s + αk), and the last sum is at most 1:
/// h's Fourier coefficients (the D_r) and g's Fourier transform are non-negative, so by Poisson summation
/// Φ(t) = Σ_s h(s)g(s + t) is a sum of non-negative terms times unimodular phases, Φ(t) ≤ Φ(0) = 1/c. Hence
/// D_α(S + k ‖ S) ≤ αk²/(2nσ²) + (α/(α−1))·λ|k|. Coordinates are independent and divergences add, so for neighbours
/// whose integer sums differ by a vector k of L2 norm ≤ Δ₂: D_α ≤ αΔ₂²/(2nσ²) + (α/(α−1))·λ‖k‖₁, with
/// ‖k‖₁ ≤ min(⌊Δ₂²⌋, √d·Δ₂) for an integer k (and ≤ Δ₁ when that is known). More survivors than n only add
/// independent noise, which cannot raise the divergence (data processing), so n is t_min. The curve has the form
/// α·ρ + (α/(α−1))·η (``RenyiCurve``), which composes by adding ρ and η. With λ tiny (10⁻⁵ at σ_local = 0.85,
/// n = 9,000) this is the discrete Gaussian's own divergence; Proposition 14 of Kairouz, Liu and Steinke instead
/// charges τ on all d coordinates, which is where its looseness comes from. When E ≥ 1/2 (σ_local ≲ 0.75 at
/// t_min = 9,000) the bound is not offered (nil): ``PrivacyAccountant``'s Proposition 14 remains the fallback.
public enum DistributedRenyiAccountant {
    /// Above this E the bound is not offered (its log term grows without limit as E → 1).
    public static let largestAliasing = 0.5

    /// E: a certified upper bound on the relative swing of the periodic factor h of a sum of `summands` local
    /// N_Z(0, σ²) shares (the type's documentation). 0 for one summand (the sum is a discrete Gaussian).
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ ≤ 0 or n < 1.
    public static func aliasing(localSigma: Double, summands: Int) throws(AccountingError) -> Double {
        try aliasingSums(localSigma: localSigma, summands: summands).swing
    }

    /// λ: a certified upper bound on |log h(s + 1) − log h(s)| for the periodic factor h of a sum of `summands`
    /// local N_Z(0, σ²) shares — (2π/n)·Σ_{r≠0} min(r, n − r)·D_r / (D_0·(1 − E)) (the type's documentation). 0 for
    /// one summand; nil where E ≥ ``largestAliasing``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ ≤ 0 or n < 1.
    public static func logSlope(localSigma: Double, summands: Int) throws(AccountingError) -> Double? {
        let sums = try aliasingSums(localSigma: localSigma, summands: summands)
        guard sums.swing < largestAliasing else { return nil }
        return 2 * Double.pi / Double(summands) * sums.slope / (1 - sums.swing)
    }

    /// Σ_{r≠0} D_r and Σ_{r≠0} min(r, n − r)·D_r, each D_r by its Chernoff bound (D_0 ≥ 1 divides neither).
    static func aliasingSums(localSigma: Double, summands: Int) throws(AccountingError) -> (swing: Double, slope: Double) {
        try AccountingError.require(localSigma.isFinite && localSigma > 0, "localSigma", localSigma, "a finite sigma > 0")
        try AccountingError.require(summands >= 1, "summands", summands, "at least 1")
        let n = summands
        if n == 1 { return (0, 0) }
        let q = 2 * Double.pi * Double.pi * localSigma * localSigma
        let count = Double(n)
        var swing = 0.0, slope = 0.0
        // D_r = D_{n−r} (m ↦ 1 − m): half the range, doubled.
        for r in 1...(n / 2) {
            let mean = Double(r) / count
            let tilt = tiltFor(mean: mean, q: q)
            let exponent = q * Double(r) * mean + count * logTheta(q: q, u: tilt) - Double(r) * tilt
            let term = (2 * r == n) ? exp(exponent) : 2 * exp(exponent)
            swing += term
            slope += Double(r) * term
        }
        // Terms below the smallest double (each under 10⁻³⁰⁰) are not lost in the bound.
        return (swing + count * 1e-300, slope + count * count * 1e-300)
    }

    /// The Rényi curve of one release: a sum of `minimumSurvivors` local N_Z(0, σ²)^d shares and neighbours whose
    /// integer sums differ by an L2 norm of at most Δ₂ (and an L1 norm of at most Δ₁ when known):
    /// ρ = Δ₂²/(2·t_min·σ²), η = λ·min(⌊Δ₂²⌋, √d·Δ₂, Δ₁). Nil where E ≥ ``largestAliasing``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ ≤ 0, t_min < 1, d < 1 or a
    ///   negative or non-finite sensitivity.
    public static func curve(
        l2Sensitivity: Double, l1Sensitivity: Double? = nil, dimension: Int, localSigma: Double, minimumSurvivors: Int
    ) throws(AccountingError) -> RenyiCurve? {
        try AccountingError.require(
            l2Sensitivity.isFinite && l2Sensitivity >= 0, "l2Sensitivity", l2Sensitivity, "a finite value >= 0")
        if let l1Sensitivity {
            try AccountingError.require(
                l1Sensitivity.isFinite && l1Sensitivity >= 0, "l1Sensitivity", l1Sensitivity, "a finite value >= 0")
        }
        try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
        guard let slope = try logSlope(localSigma: localSigma, summands: minimumSurvivors) else { return nil }
        let variance = Double(minimumSurvivors) * localSigma * localSigma
        var moved = min(
            (l2Sensitivity * l2Sensitivity).rounded(.down), Double(dimension).squareRoot() * l2Sensitivity)
        if let l1Sensitivity { moved = min(moved, l1Sensitivity) }
        return RenyiCurve(unchecked: l2Sensitivity * l2Sensitivity / (2 * variance), penalty: slope * moved)
    }

    /// The bound on D_α of one release, for α > 1 (``curve(l2Sensitivity:l1Sensitivity:dimension:localSigma:minimumSurvivors:)``
    /// at α). Nil where E ≥ ``largestAliasing``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for α ≤ 1 or as ``curve(l2Sensitivity:l1Sensitivity:dimension:localSigma:minimumSurvivors:)``.
    public static func renyiBound(
        order: Double, l2Sensitivity: Double, dimension: Int, localSigma: Double, minimumSurvivors: Int
    ) throws(AccountingError) -> Double? {
        try AccountingError.require(order.isFinite && order > 1, "order", order, "a finite order > 1")
        let curve = try curve(
            l2Sensitivity: l2Sensitivity, dimension: dimension, localSigma: localSigma, minimumSurvivors: minimumSurvivors)
        return curve?.divergence(order: order)
    }

    /// ε at δ after `rounds` releases, each bounded by ``renyiBound(order:l2Sensitivity:dimension:localSigma:minimumSurvivors:)``
    /// (composed per order, converted by ``RenyiCurve/epsilon(delta:)``). Nil where E ≥ ``largestAliasing``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for δ outside (0, 1), rounds < 1, or
    ///   as ``curve(l2Sensitivity:l1Sensitivity:dimension:localSigma:minimumSurvivors:)``.
    public static func epsilon(
        delta: Double, rounds: Int = 1, l2Sensitivity: Double, dimension: Int, localSigma: Double, minimumSurvivors: Int
    ) throws(AccountingError) -> Double? {
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        try AccountingError.require(rounds >= 1, "rounds", rounds, "at least 1")
        guard let curve = try curve(
            l2Sensitivity: l2Sensitivity, dimension: dimension, localSigma: localSigma, minimumSurvivors: minimumSurvivors)
        else { return nil }
        return try curve.repeated(rounds).epsilon(delta: delta)
    }

    /// log θ(e^u), θ(z) = Σ_{j∈ℤ} e^{−qj²} z^j, never below the true value: the terms within 12/√q + 3 of the peak
    /// j* = u/(2q) are summed, and those beyond are bounded by geometric series.
    static func logTheta(q: Double, u: Double) -> Double {
        let peak = u / (2 * q)
        let reach = Int((12 / q.squareRoot()).rounded(.up)) + 3
        let low = Int(peak.rounded(.down)) - reach
        let high = Int(peak.rounded(.up)) + reach
        func exponent(_ j: Int) -> Double { -q * Double(j) * Double(j) + Double(j) * u }
        var largest = -Double.infinity
        for j in low...high { largest = max(largest, exponent(j)) }
        var sum = 0.0
        for j in low...high { sum += exp(exponent(j) - largest) }
        // Beyond the window each step away multiplies a term by at most e^{−2q·reach}.
        let edge = max(exponent(low), exponent(high)) - largest
        let ratio = exp(-2 * q * Double(reach))
        sum += 2 * exp(edge) * ratio / (1 - ratio)
        return largest + log(sum)
    }

    /// The tilt u at which the tilted discrete Gaussian e^{−qj² + ju} has mean `mean` (0 < mean < 1): Chernoff's
    /// best z = e^u. Found by bisection; any u still gives a valid bound.
    static func tiltFor(mean target: Double, q: Double) -> Double {
        func mean(_ u: Double) -> Double {
            let peak = u / (2 * q)
            let reach = Int((12 / q.squareRoot()).rounded(.up)) + 3
            var weights = 0.0, moment = 0.0
            let low = Int(peak.rounded(.down)) - reach, high = Int(peak.rounded(.up)) + reach
            var largest = -Double.infinity
            for j in low...high { largest = max(largest, -q * Double(j * j) + Double(j) * u) }
            for j in low...high {
                let w = exp(-q * Double(j * j) + Double(j) * u - largest)
                weights += w
                moment += w * Double(j)
            }
            return moment / weights
        }
        var low = 0.0, high = 2 * q + 40
        for _ in 0..<80 {
            let middle = (low + high) / 2
            if mean(middle) < target { low = middle } else { high = middle }
        }
        return (low + high) / 2
    }
}

extension DistributedRenyiAccountant {
    /// The exact ε at δ of one neighbouring pair: an integer shift `shift` of one coordinate under a discrete
    /// Gaussian N_Z(0, v) with v = t_min·σ_local² — what the sum of t_min shares is, up to the factor (1 ± E) of
    /// ``aliasing(localSigma:summands:)`` on each probability. It is the worst pair we exhibit for a release: the
    /// accountant's ε may never be below it (beyond E), and is judged by how close it comes.
    ///
    /// Computed from the privacy-loss distribution: the smallest ε with Σ_s max(0, P(s − k) − e^ε P(s)) ≤ δ, summed
    /// over every integer within 40 standard deviations (the rest is below 10⁻³⁰⁰).
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for v ≤ 0, a negative shift or δ
    ///   outside (0, 1).
    public static func shiftEpsilon(variance: Double, shift: Int, delta: Double) throws(AccountingError) -> Double {
        try AccountingError.require(variance.isFinite && variance > 0, "variance", variance, "a finite variance > 0")
        try AccountingError.require(shift >= 0, "shift", shift, "a shift >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        if shift == 0 { return 0 }
        let reach = Int((40 * variance.squareRoot()).rounded(.up)) + shift + 1
        let logWeights = (-reach...reach).map { -Double($0) * Double($0) / (2 * variance) }
        let top = logWeights.max()!
        let logZ = top + log(logWeights.reduce(0) { $0 + exp($1 - top) })
        let pmf = logWeights.map { exp($0 - logZ) }
        return shiftEpsilon(pmf: pmf, shift: shift, delta: delta)
    }
}

extension DistributedRenyiAccountant {
    /// The exact ε at δ of an integer shift of one coordinate under the sum of `summands` local N_Z(0, σ²) shares
    /// itself (not its discrete Gaussian envelope), or nil when the sum is too wide to tabulate here (more than
    /// 2¹⁴ integers within 40 standard deviations; ``aliasing(localSigma:summands:)`` is then negligible and
    /// ``shiftEpsilon(variance:shift:delta:)`` is the same figure).
    ///
    /// The sum's pmf is P(s) = (1/M) Σ_j φ(2πj/M)ⁿ cos(2πjs/M), exact up to aliasing by M (below 10⁻³⁰⁰ here) and
    /// rounding (about 10⁻¹⁵ absolute, far below δ), with φ(t) = Σ_m e^{−σ²(t+2πm)²/2} / Σ_m e^{−2π²σ²m²} the
    /// characteristic function of N_Z(0, σ²) (Poisson summation; real and positive).
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for σ ≤ 0, n < 1, a negative shift or
    ///   δ outside (0, 1).
    public static func sumShiftEpsilon(
        localSigma sigma: Double, summands n: Int, shift: Int, delta: Double
    ) throws(AccountingError) -> Double? {
        try AccountingError.require(sigma.isFinite && sigma > 0, "localSigma", sigma, "a finite sigma > 0")
        try AccountingError.require(n >= 1, "summands", n, "at least 1")
        try AccountingError.require(shift >= 0, "shift", shift, "a shift >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        if shift == 0 { return 0 }
        let deviation = (Double(n) * sigma * sigma).squareRoot()
        let reach = Int((40 * deviation).rounded(.up)) + shift + 1
        guard 2 * reach + 1 <= 1 << 14 else { return nil }
        var size = 1
        while size < 2 * (2 * reach + 1) { size <<= 1 }
        // log φ(2πj/M) for j = 0..<M, then φⁿ.
        let modes = Int((10 / sigma).rounded(.up)) + 2
        var logNormaliser = 0.0
        do {
            var terms: [Double] = []
            for m in -modes...modes { terms.append(-2 * Double.pi * Double.pi * sigma * sigma * Double(m * m)) }
            let top = terms.max()!
            logNormaliser = top + log(terms.reduce(0) { $0 + exp($1 - top) })
        }
        var weights = [Double](repeating: 0, count: size)
        for j in 0..<size {
            let t = 2 * Double.pi * Double(j) / Double(size)
            var terms: [Double] = []
            for m in -modes...modes {
                let x = t + 2 * Double.pi * Double(m)
                terms.append(-sigma * sigma * x * x / 2)
            }
            let top = terms.max()!
            let logPhi = top + log(terms.reduce(0) { $0 + exp($1 - top) }) - logNormaliser
            weights[j] = exp(Double(n) * logPhi)
        }
        var cosines = [Double](repeating: 0, count: size)
        for j in 0..<size { cosines[j] = cos(2 * Double.pi * Double(j) / Double(size)) }
        var pmf = [Double](repeating: 0, count: 2 * reach + 1)
        for (index, s) in (-reach...reach).enumerated() {
            var total = 0.0
            let step = ((s % size) + size) % size
            var phase = 0
            for j in 0..<size {
                if weights[j] != 0 { total += weights[j] * cosines[phase] }
                phase += step
                if phase >= size { phase -= size }
            }
            pmf[index] = max(0, total / Double(size))
        }
        return shiftEpsilon(pmf: pmf, shift: shift, delta: delta)
    }
}

extension DistributedRenyiAccountant {
    /// The smallest ε (to 2⁻⁶⁰ relative, by bisection) with Σ_s max(0, P(s − k) − e^ε P(s)) ≤ δ: the exact ε at δ of
    /// the pair (P shifted by k, P), from its privacy-loss distribution. `pmf` holds P on consecutive integers.
    static func shiftEpsilon(pmf: [Double], shift: Int, delta: Double) -> Double {
        func hockeyStick(_ epsilon: Double) -> Double {
            let factor = exp(epsilon)
            var total = 0.0
            for s in 0..<(pmf.count + shift) {
                let moved = s - shift >= 0 && s - shift < pmf.count ? pmf[s - shift] : 0
                let base = s < pmf.count ? pmf[s] : 0
                if moved > factor * base { total += moved - factor * base }
            }
            return total
        }
        var low = 0.0, high = 1.0
        while hockeyStick(high) > delta, high < 1e4 { high *= 2 }
        for _ in 0..<60 {
            let middle = (low + high) / 2
            if hockeyStick(middle) > delta { low = middle } else { high = middle }
        }
        return high
    }
}
