/// The one rule for how many bits a noisy sum needs: the round validation (``RoundParameters/validate()``) enforces
/// it and the privacy planner (`PrivacyAccountant.requiredBits`, `secagg dp plan`) recommends with it, so a width
/// the planner recommends is never one the protocol refuses.
///
/// The noisy sum S = Σxᵢ + Z is read as a signed number modulo 2^bits. With |Σxᵢ| ≤ M (the signal bound) and Z a
/// sum of discrete Gaussians whose variances add up to s², S cannot wrap unless |Z| > ⌈k·s⌉, which has probability
/// at most 2·exp(−k²/2) per entry (discrete Gaussians are subgaussian). The rule is
///
///     bits = the smallest integer with 2^(bits−1) > M + ⌈k·s⌉,   k = 8 for rounds (2·e^(−32) ≈ 2.5·10^(−14)).
public enum NoisySumModulus {
    /// k, the noise margin in standard deviations that round validation demands.
    public static let standardDeviations: Double = 8

    /// ⌈k·s⌉, the room reserved for the noise, or nil when it is not a finite number below 2^63.
    public static func noiseMargin(noiseStandardDeviation: Double, standardDeviations: Double = standardDeviations)
        -> UInt64?
    {
        let margin = (standardDeviations * noiseStandardDeviation).rounded(.up)
        guard margin.isFinite, margin >= 0, margin < 0x1p63 else { return nil }
        return UInt64(margin)
    }

    /// The smallest bits with 2^(bits−1) > `signalBound` + ⌈k·s⌉; 65 when even 64 bits cannot hold it.
    ///
    /// - Parameters:
    ///   - signalBound: M, the largest |sum of inputs| per entry, in integer units.
    ///   - noiseStandardDeviation: s ≥ 0, the standard deviation of all the noise in the sum.
    ///   - standardDeviations: k > 0; rounds use ``standardDeviations`` (8), the default.
    public static func requiredBits(
        signalBound: UInt64, noiseStandardDeviation: Double, standardDeviations: Double = standardDeviations
    ) -> Int {
        guard let margin = noiseMargin(noiseStandardDeviation: noiseStandardDeviation,
                                       standardDeviations: standardDeviations) else { return 65 }
        let (total, overflow) = signalBound.addingReportingOverflow(margin)
        // 2^(bits−1) > total  ⟺  bits − 1 ≥ bit width of total
        return overflow ? 65 : (64 - total.leadingZeroBitCount) + 1
    }
}
