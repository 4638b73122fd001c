#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

import SecAggWire

/// Something a caller should know about a calibration; the privacy accounting is correct either way.
public enum CalibrationWarning: Sendable, Hashable, Codable, CustomStringConvertible {
    /// σ_local is below ``PrivacyAccountant/recommendedMinimumLocalSigma`` (2). Proposition 14's τ term is then
    /// not negligible: it is accounted for, but the noise buys less privacy than the same σ in central mode.
    /// Use fewer, larger noise shares (a smaller granularity / larger scale) or central mode.
    case localSigmaBelowRecommended(localSigma: Double)

    /// The target needed σ_local < 1/2, where Proposition 14 does not apply, so σ_local was raised to 1/2: the
    /// release is more private (and noisier) than requested.
    case localSigmaRaisedToMinimum(needed: Double)

    /// A sentence for logs and the CLI.
    public var description: String {
        switch self {
        case .localSigmaBelowRecommended(let localSigma):
            return "per-client sigma \(accountingFormatted(localSigma)) is below the recommended 2: the "
                + "distributed discrete Gaussian's tau term is not negligible (it is accounted for); increase the "
                + "scale so each client's noise is at least 2 integer units"
        case .localSigmaRaisedToMinimum(let needed):
            return "the target needs a per-client sigma of \(accountingFormatted(needed)), below 1/2 where the "
                + "distributed discrete Gaussian analysis applies; using 1/2 (more privacy, more noise)"
        }
    }
}

/// The noise of a task's releases and everything that follows from it: σ (total and per client), ρ and ε per
/// release and over all rounds, and the predicted error.
///
/// Build one with ``calibrate(epsilon:parameters:)`` (σ from a target ε) or ``evaluate(sigma:parameters:)`` (ε from
/// a chosen σ); both return the same kind of value, so `secagg dp plan` can print either.
///
/// ## Distributed mode
/// Each client adds N_Z(0, σ_local²)^d with σ_local² = σ²/t_min (BRIEF §3), so any accepted sum of n ≥ t_min
/// shares has noise variance ≈ n·σ_local² ≥ σ². ρ is the Proposition-14 bound valid for every n in
/// [t_min, n_max] (``PrivacyAccountant/distributedRho(l2Sensitivity:l1Sensitivity:localSigma:survivors:dimension:)``),
/// and σ_local is found by bisection since τ depends on it.
///
/// ## Conservative rounding
/// Every numeric step rounds towards more privacy: the total ρ is the largest one whose ε does not exceed the
/// target (``PrivacyAccountant/largestRho(epsilon:delta:)``), split over the rounds and shrunk by a relative 10⁻¹²
/// so that the rounds' ρ, added up in a ``PrivacyBudget`` declared with the same (ε, δ), fit; σ is rounded up.
/// When handing σ² to the sampler as a rational number, round it up as well.
public struct PrivacyCalibration: Sendable, Hashable, Codable {
    /// What is released and how often: everything the calibration needs besides ε or σ.
    public struct Parameters: Sendable, Hashable, Codable {
        /// Where the noise is added.
        public var placement: NoisePlacement
        /// Δ₂ > 0: the largest L2 distance between the integer sums of two neighbouring inputs, in integer units
        /// (after clipping, scaling and rounding; e.g. the rounded norm bound for zero-out neighbours, twice it for
        /// replace-one).
        public var l2Sensitivity: Double
        /// Δ₁ ≥ 0 if known (tightens the distributed bound's middle term), else `nil`.
        public var l1Sensitivity: Double?
        /// d ≥ 1, the number of coordinates released.
        public var dimension: Int
        /// t_min ≥ 1: the fewest survivors a round accepts (distributed noise is sized for them).
        public var minimumSurvivors: Int
        /// n_max ≥ t_min: the most clients whose inputs can be summed (τ and the modulus are sized for them).
        public var maximumSurvivors: Int
        /// δ ∈ (0, 1) of the (ε, δ) guarantee.
        public var delta: Double
        /// R ≥ 1 releases that compose (their ρ add up).
        public var rounds: Int

        /// Collects the parameters; they are validated by ``PrivacyCalibration/calibrate(epsilon:parameters:)`` and
        /// ``PrivacyCalibration/evaluate(sigma:parameters:)``.
        public init(
            placement: NoisePlacement, l2Sensitivity: Double, l1Sensitivity: Double? = nil, dimension: Int,
            minimumSurvivors: Int, maximumSurvivors: Int, delta: Double, rounds: Int = 1
        ) {
            self.placement = placement
            self.l2Sensitivity = l2Sensitivity
            self.l1Sensitivity = l1Sensitivity
            self.dimension = dimension
            self.minimumSurvivors = minimumSurvivors
            self.maximumSurvivors = maximumSurvivors
            self.delta = delta
            self.rounds = rounds
        }

        /// t_min...n_max.
        public var survivors: ClosedRange<Int> { minimumSurvivors...maximumSurvivors }

        func validate() throws(AccountingError) {
            try AccountingError.require(
                l2Sensitivity.isFinite && l2Sensitivity > 0, "l2Sensitivity", l2Sensitivity, "a finite value > 0")
            if let l1Sensitivity {
                try AccountingError.require(
                    l1Sensitivity.isFinite && l1Sensitivity >= 0, "l1Sensitivity", l1Sensitivity,
                    "a finite value >= 0")
            }
            try AccountingError.require(dimension >= 1, "dimension", dimension, "at least 1")
            try AccountingError.require(minimumSurvivors >= 1, "minimumSurvivors", minimumSurvivors, "at least 1")
            try AccountingError.require(
                maximumSurvivors >= minimumSurvivors, "maximumSurvivors", maximumSurvivors,
                "at least minimumSurvivors (\(minimumSurvivors))")
            try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
            try AccountingError.require(rounds >= 1, "rounds", rounds, "at least 1")
        }
    }

    /// The inputs this calibration was computed for.
    public let parameters: Parameters
    /// σ of the released sum's noise: central σ, or σ_local·√t_min in distributed mode (the least total noise
    /// of an accepted sum).
    public let sigma: Double
    /// σ_local, each client's discrete Gaussian parameter (distributed mode), else `nil`.
    public let localSigma: Double?
    /// τ of Proposition 14 at n_max (0 in central mode).
    public let tau: Double
    /// ρ of one release.
    public let rhoPerRelease: Double
    /// ρ of all ``Parameters/rounds`` releases: rounds · ρ per release.
    public let rhoTotal: Double
    /// ε of one release on its own, at δ.
    public let epsilonPerRelease: Double
    /// ε of all releases together, at δ (≤ the target of ``calibrate(epsilon:parameters:)``).
    public let epsilon: Double
    /// Conditions worth reporting (empty when all is well).
    public let warnings: [CalibrationWarning]

    /// δ of the guarantee (``Parameters/delta``).
    public var delta: Double { parameters.delta }

    /// The least noise for a target: the σ (and σ_local) whose R releases together are (ε, δ)-DP.
    ///
    /// Steps: ρ_total = ``PrivacyAccountant/largestRho(epsilon:delta:)``; ρ per release = ρ_total/R (shrunk by
    /// 10⁻¹²); central σ = Δ₂/√(2ρ) rounded up; distributed σ_local = the smallest value in [1/2, ∞) whose
    /// Proposition-14 ρ over [t_min, n_max] is ≤ ρ per release (bisection to 10⁻¹³ relative, keeping the upper,
    /// valid end); σ = σ_local·√t_min.
    ///
    /// - Parameters:
    ///   - epsilon: The target ε > 0 for all rounds together.
    ///   - parameters: The release's shape, δ and rounds.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for out-of-range inputs;
    ///   ``AccountingError/calibrationFailed(_:)`` if no σ is found (it should not happen for finite inputs).
    public static func calibrate(epsilon: Double, parameters: Parameters) throws(AccountingError)
        -> PrivacyCalibration
    {
        try parameters.validate()
        try AccountingError.require(epsilon.isFinite && epsilon > 0, "epsilon", epsilon, "a finite epsilon > 0")
        let rhoBudget = try PrivacyAccountant.largestRho(epsilon: epsilon, delta: parameters.delta)
        let target = rhoBudget / Double(parameters.rounds) * (1 - 1e-12)
        guard target > 0 else {
            throw .calibrationFailed(
                "epsilon \(accountingFormatted(epsilon)) at delta \(accountingFormatted(parameters.delta)) leaves "
                    + "no zCDP budget; raise epsilon or delta")
        }
        switch parameters.placement {
        case .central:
            var sigma = parameters.l2Sensitivity / (2 * target).squareRoot()
            while try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: parameters.l2Sensitivity, sigma: sigma)
                > target
            {
                sigma = sigma.nextUp
            }
            return try make(sigma: sigma, localSigma: nil, warnings: [], parameters: parameters)
        case .distributed:
            let rho = { (localSigma: Double) throws(AccountingError) -> Double in
                try PrivacyAccountant.distributedRho(
                    l2Sensitivity: parameters.l2Sensitivity, l1Sensitivity: parameters.l1Sensitivity,
                    localSigma: localSigma, survivors: parameters.survivors, dimension: parameters.dimension)
            }
            // With τ = 0 the answer would be Δ₂/√(2·t_min·ρ); τ ≥ 0 only pushes it up.
            let floor = PrivacyAccountant.minimumLocalSigma
            let ideal = parameters.l2Sensitivity / (2 * Double(parameters.minimumSurvivors) * target).squareRoot()
            var warnings: [CalibrationWarning] = []
            var localSigma: Double
            if try rho(floor) <= target {
                localSigma = floor
                if ideal < floor { warnings.append(.localSigmaRaisedToMinimum(needed: ideal)) }
            } else {
                var low = max(floor, ideal)
                var high = low
                var doublings = 0
                while try rho(high) > target {
                    low = high
                    high *= 2
                    doublings += 1
                    guard doublings < 2_000, high.isFinite else {
                        throw .calibrationFailed("no per-client sigma meets rho = \(accountingFormatted(target))")
                    }
                }
                for _ in 0..<400 where high - low > 1e-13 * high {
                    let middle = (low + high) / 2
                    if try rho(middle) <= target { high = middle } else { low = middle }
                }
                localSigma = high
            }
            if localSigma < PrivacyAccountant.recommendedMinimumLocalSigma {
                warnings.append(.localSigmaBelowRecommended(localSigma: localSigma))
            }
            let sigma = localSigma * Double(parameters.minimumSurvivors).squareRoot()
            return try make(sigma: sigma, localSigma: localSigma, warnings: warnings, parameters: parameters)
        }
    }

    /// The privacy of a chosen σ: ρ and ε per release and over the rounds (`secagg dp plan --sigma`).
    ///
    /// - Parameters:
    ///   - sigma: Central: σ > 0. Distributed: the total σ; each client uses σ_local = σ/√t_min (≥ 1/2).
    ///   - parameters: The release's shape, δ and rounds.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for out-of-range inputs (including
    ///   σ_local < 1/2 in distributed mode).
    public static func evaluate(sigma: Double, parameters: Parameters) throws(AccountingError) -> PrivacyCalibration {
        try parameters.validate()
        try AccountingError.require(sigma.isFinite && sigma > 0, "sigma", sigma, "a finite sigma > 0")
        switch parameters.placement {
        case .central:
            return try make(sigma: sigma, localSigma: nil, warnings: [], parameters: parameters)
        case .distributed:
            return try evaluate(
                localSigma: sigma / Double(parameters.minimumSurvivors).squareRoot(), parameters: parameters)
        }
    }

    /// The privacy of a chosen per-client σ_local in distributed mode.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for out-of-range inputs, σ_local < 1/2,
    ///   or a central-mode `parameters`.
    public static func evaluate(localSigma: Double, parameters: Parameters) throws(AccountingError)
        -> PrivacyCalibration
    {
        try parameters.validate()
        guard parameters.placement == .distributed else {
            throw .invalidParameter(
                name: "placement", value: parameters.placement.rawValue, requirement: "distributed for a local sigma")
        }
        try AccountingError.require(
            localSigma.isFinite && localSigma >= PrivacyAccountant.minimumLocalSigma, "localSigma", localSigma,
            "a finite sigma >= 1/2 (Kairouz-Liu-Steinke Proposition 14)")
        let warnings: [CalibrationWarning] =
            localSigma < PrivacyAccountant.recommendedMinimumLocalSigma
            ? [.localSigmaBelowRecommended(localSigma: localSigma)] : []
        return try make(
            sigma: localSigma * Double(parameters.minimumSurvivors).squareRoot(), localSigma: localSigma,
            warnings: warnings, parameters: parameters)
    }

    private static func make(
        sigma: Double, localSigma: Double?, warnings: [CalibrationWarning], parameters: Parameters
    ) throws(AccountingError) -> PrivacyCalibration {
        let rho: Double
        let tau: Double
        if let localSigma {
            rho = try PrivacyAccountant.distributedRho(
                l2Sensitivity: parameters.l2Sensitivity, l1Sensitivity: parameters.l1Sensitivity,
                localSigma: localSigma, survivors: parameters.survivors, dimension: parameters.dimension)
            tau = try PrivacyAccountant.distributedTau(localSigma: localSigma, summands: parameters.maximumSurvivors)
        } else {
            rho = try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: parameters.l2Sensitivity, sigma: sigma)
            tau = 0
        }
        let total = rho * Double(parameters.rounds)
        return PrivacyCalibration(
            parameters: parameters, sigma: sigma, localSigma: localSigma, tau: tau, rhoPerRelease: rho,
            rhoTotal: total,
            epsilonPerRelease: try PrivacyAccountant.epsilon(rho: rho, delta: parameters.delta),
            epsilon: try PrivacyAccountant.epsilon(rho: total, delta: parameters.delta), warnings: warnings)
    }

    private init(
        parameters: Parameters, sigma: Double, localSigma: Double?, tau: Double, rhoPerRelease: Double,
        rhoTotal: Double, epsilonPerRelease: Double, epsilon: Double, warnings: [CalibrationWarning]
    ) {
        self.parameters = parameters
        self.sigma = sigma
        self.localSigma = localSigma
        self.tau = tau
        self.rhoPerRelease = rhoPerRelease
        self.rhoTotal = rhoTotal
        self.epsilonPerRelease = epsilonPerRelease
        self.epsilon = epsilon
        self.warnings = warnings
    }

    /// The noise's subgaussian parameter in the largest possible sum, for the modulus check: σ (central) or
    /// σ_local·√n_max (distributed).
    public var noiseSigmaOfLargestSum: Double {
        guard let localSigma else { return sigma }
        return localSigma * Double(parameters.maximumSurvivors).squareRoot()
    }

    /// The predicted RMSE per coordinate of a released sum of `survivors` inputs, in integer units:
    /// √(noise variance + n · roundingVariancePerClient), the noise variance being Var(N_Z(0, σ²)) (central) or
    /// n · Var(N_Z(0, σ_local²)) (distributed); see ``PrivacyAccountant/noiseRMSE(placement:sigma:survivors:)``.
    ///
    /// - Parameters:
    ///   - survivors: n ≥ 1, the inputs in the sum.
    ///   - roundingVariancePerClient: The variance randomized rounding adds per coordinate and client (at most 1/4;
    ///     0 for integer inputs, the default). Clipping bias is not included.
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for n < 1 or a negative variance.
    public func predictedRMSE(survivors: Int, roundingVariancePerClient: Double = 0) throws(AccountingError) -> Double {
        try AccountingError.require(
            roundingVariancePerClient.isFinite && roundingVariancePerClient >= 0, "roundingVariancePerClient",
            roundingVariancePerClient, "a finite value >= 0")
        let noise = try PrivacyAccountant.noiseRMSE(
            placement: parameters.placement, sigma: localSigma ?? sigma, survivors: survivors)
        return (noise * noise + Double(survivors) * roundingVariancePerClient).squareRoot()
    }

    /// The predicted RMSE per coordinate in the caller's real units, where one real unit is `scale` integer units
    /// (the encoder multiplies by `scale` before rounding): ``predictedRMSE(survivors:roundingVariancePerClient:)``
    /// divided by `scale`.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for a non-positive scale or the
    ///   cases of ``predictedRMSE(survivors:roundingVariancePerClient:)``.
    public func predictedRMSE(survivors: Int, scale: Double, roundingVariancePerClient: Double = 0)
        throws(AccountingError) -> Double
    {
        try AccountingError.require(scale.isFinite && scale > 0, "scale", scale, "a finite scale > 0")
        return try predictedRMSE(survivors: survivors, roundingVariancePerClient: roundingVariancePerClient) / scale
    }

    /// The modulus for this task:
    /// ``PrivacyAccountant/requiredBits(summands:coordinateBound:noiseSigma:standardDeviations:dimension:maximumBits:)``
    /// with n = n_max, the noise of the largest sum, and d = the task's dimension.
    ///
    /// - Parameters:
    ///   - coordinateBound: B ≥ 0, the largest |coordinate| of one encoded input, in integer units.
    ///   - standardDeviations: k > 0 (default 8: ``NoisySumModulus``, the rule round validation enforces).
    ///   - maximumBits: The largest allowed modulus exponent (default 64).
    /// - Throws: ``AccountingError/insufficientBits(requiredBits:maximumBits:signalBound:noiseMargin:)`` or
    ///   ``AccountingError/invalidParameter(name:value:requirement:)``.
    public func requiredBits(
        coordinateBound: Int, standardDeviations: Double = NoisySumModulus.standardDeviations, maximumBits: Int = 64)
        throws(AccountingError) -> ModularBitsRequirement
    {
        try PrivacyAccountant.requiredBits(
            summands: parameters.maximumSurvivors, coordinateBound: coordinateBound,
            noiseSigma: noiseSigmaOfLargestSum, standardDeviations: standardDeviations,
            dimension: parameters.dimension, maximumBits: maximumBits)
    }
}

extension PrivacyCalibration {
    /// Calibrates for a target ε when `epsilon` is given, else evaluates the σ given: per client for distributed
    /// noise (``evaluate(localSigma:parameters:)``), of the release for central noise (``evaluate(sigma:parameters:)``).
    ///
    /// - Throws: ``AccountingError`` for invalid parameters, or when neither `epsilon` nor `sigma` is given.
    public static func calibrate(
        epsilon: Double?, orSigma sigma: Double?, parameters: Parameters
    ) throws(AccountingError) -> PrivacyCalibration {
        if let epsilon { return try calibrate(epsilon: epsilon, parameters: parameters) }
        guard let sigma else {
            throw .invalidParameter(name: "sigma", value: "none", requirement: "either ε or σ")
        }
        return parameters.placement == .central
            ? try evaluate(sigma: sigma, parameters: parameters)
            : try evaluate(localSigma: sigma, parameters: parameters)
    }
}
