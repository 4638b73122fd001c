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

    /// The target needed a smaller σ_local than either accountant can certify for a sum of t_min shares (below it
    /// the shares' sum is too far from a discrete Gaussian), so σ_local was raised to `used`: the release is more
    /// private (and noisier) than requested.
    case localSigmaRaisedForAccounting(needed: Double, used: Double)

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
        case .localSigmaRaisedForAccounting(let needed, let used):
            return "the target needs a per-client sigma of \(accountingFormatted(needed)), below the smallest one "
                + "whose sum of t_min shares can be accounted for; using \(accountingFormatted(used)) (more privacy, "
                + "more noise)"
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
/// shares has noise variance ≈ n·σ_local² ≥ σ². Two accountants bound a release, and the one with the smaller ε
/// over the rounds is charged (``accountant``):
/// - ``Accountant/distributedRenyi``: the Rényi curve of the sum of t_min shares itself
///   (``DistributedRenyiAccountant``), which is the discrete Gaussian's own curve up to a certified η — within
///   about 1.1× of the exact ε of the worst integer shift wherever it applies (σ_local above about 0.6 at t_min = 100,
///   0.77 at t_min = 10⁴);
/// - ``Accountant/proposition14``: the closed-form bound valid for every n in [t_min, n_max]
///   (``PrivacyAccountant/distributedRho(l2Sensitivity:l1Sensitivity:localSigma:survivors:dimension:)``), the
///   fallback and cross-check; it charges τ on every coordinate and is loose (up to tens of times) for small σ_local.
/// σ_local is found by bisection for each and the smaller is used.
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
    /// The accountant whose bound is charged.
    public let accountant: Accountant
    /// The Rényi curve of one release, as charged to the ledger (η = 0 for a zCDP accountant).
    public let curvePerRelease: RenyiCurve
    /// ρ of one release: the linear part of ``curvePerRelease`` (its zCDP cost when η = 0).
    public var rhoPerRelease: Double { curvePerRelease.rho }
    /// ρ of all ``Parameters/rounds`` releases: rounds · ρ per release.
    public var rhoTotal: Double { curvePerRelease.rho * Double(parameters.rounds) }
    /// ε of one release on its own, at δ.
    public let epsilonPerRelease: Double
    /// ε of all releases together, at δ (≤ the target of ``calibrate(epsilon:parameters:)``).
    public let epsilon: Double
    /// Conditions worth reporting (empty when all is well).
    public let warnings: [CalibrationWarning]

    /// δ of the guarantee (``Parameters/delta``).
    public var delta: Double { parameters.delta }

    /// Which bound a calibration charges.
    public enum Accountant: String, Sendable, Hashable, Codable, CaseIterable {
        /// Central noise: ρ = Δ₂²/(2σ²), the discrete Gaussian's zCDP (Canonne, Kamath, Steinke 2020).
        case discreteGaussian = "discrete_gaussian"
        /// Distributed noise: Kairouz, Liu and Steinke (2021), Proposition 14, as zCDP over [t_min, n_max].
        case proposition14 = "proposition_14"
        /// Distributed noise: the Rényi curve of the sum of t_min shares (``DistributedRenyiAccountant``).
        case distributedRenyi = "distributed_renyi"

        /// A short name for people.
        public var label: String {
            switch self {
            case .discreteGaussian: "the discrete Gaussian's zCDP"
            case .proposition14: "Proposition 14 of Kairouz, Liu and Steinke"
            case .distributedRenyi: "the Rényi curve of the sum of t_min shares"
            }
        }
    }

    /// The least noise for a target: the σ (and σ_local) whose R releases together are (ε, δ)-DP.
    ///
    /// Steps: ρ_total = ``PrivacyAccountant/largestRho(epsilon:delta:)``; ρ per release = ρ_total/R (shrunk by
    /// 10⁻¹²); central σ = Δ₂/√(2ρ) rounded up; distributed σ_local = the smaller of the smallest value in [1/2, ∞)
    /// whose Proposition-14 ρ over [t_min, n_max] is ≤ ρ per release and the smallest value whose Rényi curve
    /// (``DistributedRenyiAccountant``), composed over R rounds, has ε ≤ the target shrunk by 10⁻¹² (bisections to
    /// 10⁻¹³ relative, keeping the upper, valid end); σ = σ_local·√t_min.
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
            // Proposition 14 first: it always has an answer.
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
            // Then the Rényi curve of the sum of t_min shares, below Proposition 14's answer.
            if let renyi = try renyiLocalSigma(
                epsilon: epsilon * (1 - 1e-12), parameters: parameters, lowest: max(floor, ideal), highest: localSigma),
                renyi.localSigma < localSigma
            {
                localSigma = renyi.localSigma
                warnings = renyi.raised ? [.localSigmaRaisedForAccounting(needed: ideal, used: localSigma)] : []
            }
            let sigma = localSigma * Double(parameters.minimumSurvivors).squareRoot()
            return try make(sigma: sigma, localSigma: localSigma, warnings: warnings, parameters: parameters)
        }
    }

    /// The smallest σ_local in [`lowest`, `highest`] whose Rényi curve (``DistributedRenyiAccountant``), composed over
    /// the rounds, has ε ≤ `epsilon` at δ — bisection to 10⁻¹³ relative, keeping the upper, valid end — and whether
    /// the answer was limited by where the curve exists rather than by ε. Nil if `highest` does not qualify.
    private static func renyiLocalSigma(
        epsilon: Double, parameters: Parameters, lowest: Double, highest: Double
    ) throws(AccountingError) -> (localSigma: Double, raised: Bool)? {
        func curve(_ localSigma: Double) throws(AccountingError) -> RenyiCurve? {
            try DistributedRenyiAccountant.curve(
                l2Sensitivity: parameters.l2Sensitivity, l1Sensitivity: parameters.l1Sensitivity,
                dimension: parameters.dimension, localSigma: localSigma, minimumSurvivors: parameters.minimumSurvivors)
        }
        func qualifies(_ localSigma: Double) throws(AccountingError) -> Bool {
            guard let curve = try curve(localSigma) else { return false }
            return try curve.repeated(parameters.rounds).epsilon(delta: parameters.delta) <= epsilon
        }
        guard try qualifies(highest) else { return nil }
        if try qualifies(lowest) { return (lowest, false) }
        var low = lowest, high = highest
        for _ in 0..<200 where high - low > 1e-13 * high {
            let middle = (low + high) / 2
            if try qualifies(middle) { high = middle } else { low = middle }
        }
        return (high, try curve(low) == nil)
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
        return try make(
            sigma: localSigma * Double(parameters.minimumSurvivors).squareRoot(), localSigma: localSigma,
            warnings: [], parameters: parameters)
    }

    /// The calibration of σ (and σ_local): both distributed accountants are evaluated and the one with the smaller
    /// ε over the rounds is charged. Proposition 14's σ_local < 2 warning is added when it is the one charged.
    private static func make(
        sigma: Double, localSigma: Double?, warnings: [CalibrationWarning], parameters: Parameters
    ) throws(AccountingError) -> PrivacyCalibration {
        var warnings = warnings
        var curve: RenyiCurve
        var accountant: Accountant
        let tau: Double
        if let localSigma {
            curve = RenyiCurve(unchecked: try PrivacyAccountant.distributedRho(
                l2Sensitivity: parameters.l2Sensitivity, l1Sensitivity: parameters.l1Sensitivity,
                localSigma: localSigma, survivors: parameters.survivors, dimension: parameters.dimension), penalty: 0)
            accountant = .proposition14
            tau = try PrivacyAccountant.distributedTau(localSigma: localSigma, summands: parameters.maximumSurvivors)
            if let renyi = try DistributedRenyiAccountant.curve(
                l2Sensitivity: parameters.l2Sensitivity, l1Sensitivity: parameters.l1Sensitivity,
                dimension: parameters.dimension, localSigma: localSigma, minimumSurvivors: parameters.minimumSurvivors),
                try renyi.repeated(parameters.rounds).epsilon(delta: parameters.delta)
                    < curve.repeated(parameters.rounds).epsilon(delta: parameters.delta)
            {
                curve = renyi
                accountant = .distributedRenyi
            }
            if accountant == .proposition14, localSigma < PrivacyAccountant.recommendedMinimumLocalSigma,
                !warnings.contains(where: { if case .localSigmaBelowRecommended = $0 { true } else { false } })
            {
                warnings.append(.localSigmaBelowRecommended(localSigma: localSigma))
            }
        } else {
            curve = RenyiCurve(unchecked: try PrivacyAccountant.discreteGaussianRho(
                l2Sensitivity: parameters.l2Sensitivity, sigma: sigma), penalty: 0)
            accountant = .discreteGaussian
            tau = 0
        }
        return PrivacyCalibration(
            parameters: parameters, sigma: sigma, localSigma: localSigma, tau: tau, accountant: accountant,
            curvePerRelease: curve, epsilonPerRelease: try curve.epsilon(delta: parameters.delta),
            epsilon: try curve.repeated(parameters.rounds).epsilon(delta: parameters.delta), warnings: warnings)
    }

    private init(
        parameters: Parameters, sigma: Double, localSigma: Double?, tau: Double, accountant: Accountant,
        curvePerRelease: RenyiCurve, epsilonPerRelease: Double, epsilon: Double, warnings: [CalibrationWarning]
    ) {
        self.parameters = parameters
        self.sigma = sigma
        self.localSigma = localSigma
        self.tau = tau
        self.accountant = accountant
        self.curvePerRelease = curvePerRelease
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
