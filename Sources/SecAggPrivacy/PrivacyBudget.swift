/// One release (or attempted release) in a task's privacy ledger.
///
/// Written when the round is charged, before it starts; ``survivors`` and ``status`` are filled in when it ends.
public struct BudgetEntry: Sendable, Hashable, Codable {
    /// What became of the charged round.
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        /// Charged before the round started; the round has not ended yet. Counts against the budget.
        case charged
        /// The noisy sum was released. Counts against the budget.
        case released
        /// The round aborted after noised inputs may have reached the coordinator (distributed mode). Counts
        /// against the budget, as if released: see ``PrivacyBudget/recordAbort(roundID:noisedInputsSent:reason:)``.
        case aborted
        /// The round aborted without releasing anything derived from the data. Kept for the record; costs nothing.
        case refunded
    }

    /// The round's identifier (unique within the ledger).
    public let roundID: String
    /// Where the noise was added.
    public let placement: NoisePlacement
    /// The linear part ρ of the round's Rényi curve (``curve``): its zCDP cost when ``penalty`` is 0.
    public let rho: Double
    /// The η of the round's Rényi curve: D_α ≤ α·ρ + (α/(α−1))·η. 0 for a zCDP charge (central noise, or
    /// Proposition 14); positive when the distributed accountant (``DistributedRenyiAccountant``) charged the round.
    public let penalty: Double
    /// ε of this release on its own, at ``delta``.
    public let epsilon: Double
    /// The budget's δ, at which ``epsilon`` is stated.
    public let delta: Double
    /// σ of the released sum's noise (central σ, or σ_local·√t_min).
    public let sigma: Double
    /// Each client's σ_local in distributed mode, else `nil`.
    public let localSigma: Double?
    /// t_min, the fewest survivors the round accepts.
    public let minimumSurvivors: Int
    /// The clients actually summed, once known.
    public internal(set) var survivors: Int?
    /// The L2 clip norm of the inputs, in the caller's real units.
    public let clip: Double
    /// The modulus exponent of the round.
    public let bits: Int
    /// What became of the round.
    public internal(set) var status: Status
    /// Why the round aborted or was refunded, if it did.
    public internal(set) var note: String?

    /// Whether the entry counts against the budget (every status except ``Status/refunded``).
    public var isCharged: Bool { status != .refunded }

    /// The round's Rényi curve (ρ, η).
    public var curve: RenyiCurve { RenyiCurve(unchecked: rho, penalty: penalty) }

    init(
        roundID: String, placement: NoisePlacement, curve: RenyiCurve, epsilon: Double, delta: Double, sigma: Double,
        localSigma: Double?, minimumSurvivors: Int, survivors: Int?, clip: Double, bits: Int, status: Status,
        note: String?
    ) {
        self.roundID = roundID
        self.placement = placement
        self.rho = curve.rho
        self.penalty = curve.penalty
        self.epsilon = epsilon
        self.delta = delta
        self.sigma = sigma
        self.localSigma = localSigma
        self.minimumSurvivors = minimumSurvivors
        self.survivors = survivors
        self.clip = clip
        self.bits = bits
        self.status = status
        self.note = note
    }

    private enum CodingKeys: String, CodingKey {
        case roundID, placement, rho, penalty, epsilon, delta, sigma, localSigma, minimumSurvivors, survivors, clip
        case bits, status, note
    }

    /// Decodes an entry; a missing `penalty` (ledgers written before the distributed accountant) is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        roundID = try container.decode(String.self, forKey: .roundID)
        placement = try container.decode(NoisePlacement.self, forKey: .placement)
        rho = try container.decode(Double.self, forKey: .rho)
        penalty = try container.decodeIfPresent(Double.self, forKey: .penalty) ?? 0
        epsilon = try container.decode(Double.self, forKey: .epsilon)
        delta = try container.decode(Double.self, forKey: .delta)
        sigma = try container.decode(Double.self, forKey: .sigma)
        localSigma = try container.decodeIfPresent(Double.self, forKey: .localSigma)
        minimumSurvivors = try container.decode(Int.self, forKey: .minimumSurvivors)
        survivors = try container.decodeIfPresent(Int.self, forKey: .survivors)
        clip = try container.decode(Double.self, forKey: .clip)
        bits = try container.decode(Int.self, forKey: .bits)
        status = try container.decode(Status.self, forKey: .status)
        note = try container.decodeIfPresent(String.self, forKey: .note)
    }

    /// Encodes the entry; `penalty` only when it is not 0, so a zCDP entry encodes (and its ledger's digest reads)
    /// exactly as before the field existed.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(roundID, forKey: .roundID)
        try container.encode(placement, forKey: .placement)
        try container.encode(rho, forKey: .rho)
        if penalty != 0 { try container.encode(penalty, forKey: .penalty) }
        try container.encode(epsilon, forKey: .epsilon)
        try container.encode(delta, forKey: .delta)
        try container.encode(sigma, forKey: .sigma)
        try container.encodeIfPresent(localSigma, forKey: .localSigma)
        try container.encode(minimumSurvivors, forKey: .minimumSurvivors)
        try container.encodeIfPresent(survivors, forKey: .survivors)
        try container.encode(clip, forKey: .clip)
        try container.encode(bits, forKey: .bits)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(note, forKey: .note)
    }
}

/// A task's privacy budget and ledger: the total (ε, δ) it may spend, as a zCDP budget ρ, and every round charged
/// against it.
///
/// ## Use
/// 1. Before a round starts, ``charge(roundID:placement:rho:sigma:localSigma:minimumSurvivors:clip:bits:)`` (or
///    ``charge(roundID:calibration:clip:bits:)``) records it — or throws
///    `AccountingError.budgetExceeded` and records nothing, so a round over budget never starts.
/// 2. When it ends, ``recordRelease(roundID:survivors:)`` or ``recordAbort(roundID:noisedInputsSent:reason:)``.
///
/// ## Accounting
/// Each entry is a Rényi curve D_α ≤ α·ρ + (α/(α−1))·η (``RenyiCurve``); rounds compose by adding ρ and η
/// (compensated sums), and ``epsilonSpent`` converts the total with Canonne–Kamath–Steinke's Proposition 12 at the
/// budget's δ. While every entry is zCDP (η = 0) the limit is compared in ρ: ``PrivacyAccountant/largestRho(epsilon:delta:)``
/// of the declared (ε, δ), exactly (no tolerance). Once an entry has η > 0 the total's ε at δ is compared with
/// ``epsilonLimit``. Either way spending up to the limit keeps the whole task (ε, δ)-DP.
///
/// ## Aborted rounds
/// - Central mode: the coordinator adds the noise after unmasking and releases nothing if the round aborts, and
///   the exact sum is never stored: an abort costs nothing (refund).
/// - Distributed mode: once any client has sent its noised masked input, a coordinator that deviates may be able
///   to recover the noisy sum of some accepted set of survivors, of at least t_min clients. Secure aggregation
///   reveals at most one such sum per round, and the entry's ρ (Proposition 14 over [t_min, n_max]) covers any of
///   them, so the aborted round is charged in full, exactly like a release. Only an abort before any noised masked
///   input was sent costs nothing.
///
/// `Codable` so the coordinator can persist it as JSON; decoding re-validates it.
public struct PrivacyBudget: Sendable, Hashable, Codable {
    /// The declared total ε (`nil` when the budget was declared directly in ρ).
    public let epsilon: Double?
    /// δ at which the budget and every entry's ε are stated.
    public let delta: Double
    /// The total zCDP budget ρ.
    public let rhoLimit: Double
    /// Every round charged so far, in order.
    public private(set) var entries: [BudgetEntry]

    /// A budget of (ε, δ) for the whole task: ρ limit = ``PrivacyAccountant/largestRho(epsilon:delta:)``.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless ε is finite and ≥ 0 and
    ///   0 < δ < 1.
    public init(epsilon: Double, delta: Double) throws(AccountingError) {
        self.epsilon = epsilon
        self.delta = delta
        self.rhoLimit = try PrivacyAccountant.largestRho(epsilon: epsilon, delta: delta)
        self.entries = []
    }

    /// A budget declared directly as ρ-zCDP, with δ for reporting ε.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless ρ is finite and ≥ 0 and
    ///   0 < δ < 1.
    public init(rhoLimit: Double, delta: Double) throws(AccountingError) {
        try AccountingError.require(rhoLimit.isFinite && rhoLimit >= 0, "rhoLimit", rhoLimit, "a finite rho >= 0")
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        self.epsilon = nil
        self.delta = delta
        self.rhoLimit = rhoLimit
        self.entries = []
    }

    /// The same ledger under a new total ε at the same δ, every entry kept: an operator raising (or lowering) a
    /// task's budget. Lowering it below what is already spent is refused, so the ledger never shows a task over
    /// its budget.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` for an ε that is not finite and
    ///   ≥ 0, or below what is already spent.
    public func withLimit(epsilon newEpsilon: Double) throws(AccountingError) -> PrivacyBudget {
        var changed = try PrivacyBudget(epsilon: newEpsilon, delta: delta)
        try AccountingError.require(
            changed.fits(spent), "epsilon", newEpsilon, "at least the epsilon already spent (\(epsilonSpent))")
        changed.entries = entries
        return changed
    }

    /// The Rényi curve spent: the composition of the entries that are not refunded.
    public var spent: RenyiCurve {
        RenyiCurve.composition(of: entries.lazy.filter(\.isCharged).map(\.curve))
    }

    /// The ρ spent: the sum over entries that are not refunded.
    public var rhoSpent: Double { spent.rho }

    /// The η spent (0 while every charge was zCDP).
    public var penaltySpent: Double { spent.penalty }

    /// What is left, as the largest ρ a further zCDP round may cost: ρ limit − ρ spent while every charge was zCDP;
    /// otherwise the largest ρ whose addition keeps ε at δ within ``epsilonLimit`` (never negative).
    public var rhoRemaining: Double {
        let spent = self.spent
        if spent.isZCDP { return max(0, rhoLimit - spent.rho) }
        guard fits(spent) else { return 0 }
        var low = 0.0, high = max(rhoLimit, 1e-300)
        for _ in 0..<200 where high - low > 1e-14 * high {
            let middle = (low + high) / 2
            if fits(spent + RenyiCurve(unchecked: middle, penalty: 0)) { low = middle } else { high = middle }
        }
        return low
    }

    /// ε spent so far at the budget's δ (``RenyiCurve/epsilon(delta:)`` of ``spent``).
    public var epsilonSpent: Double {
        (try? spent.epsilon(delta: delta)) ?? .infinity
    }

    /// Whether a ledger whose charged entries compose to `total` is within the limit.
    private func fits(_ total: RenyiCurve) -> Bool {
        guard total.rho.isFinite, total.penalty.isFinite else { return false }
        if total.isZCDP { return total.rho <= rhoLimit }
        return ((try? total.epsilon(delta: delta)) ?? .infinity) <= epsilonLimit
    }

    /// The declared ε, or the ε of the ρ limit for a budget declared in ρ.
    public var epsilonLimit: Double {
        epsilon ?? ((try? PrivacyAccountant.epsilon(rho: rhoLimit, delta: delta)) ?? .infinity)
    }

    /// The entry for `roundID`, if any.
    public func entry(roundID: String) -> BudgetEntry? {
        entries.first { $0.roundID == roundID }
    }

    /// Whether a round costing `rho` (a zCDP round) fits in what is left.
    public func canAfford(rho: Double) -> Bool {
        rho.isFinite && rho >= 0 && canAfford(RenyiCurve(unchecked: rho, penalty: 0))
    }

    /// Whether a round with Rényi curve `curve` fits in what is left.
    public func canAfford(_ curve: RenyiCurve) -> Bool {
        fits(RenyiCurve.composition(of: entries.lazy.filter(\.isCharged).map(\.curve) + [curve]))
    }

    /// Throws if a round costing `rho` (with Rényi penalty η = `penalty`, 0 for zCDP) does not fit; records nothing.
    ///
    /// - Throws: `AccountingError.budgetExceeded` with what the round costs and what is left;
    ///   ``AccountingError/invalidParameter(name:value:requirement:)`` for a negative or non-finite ρ or η.
    public func check(roundID: String, rho: Double, penalty: Double = 0) throws(AccountingError) {
        let curve = try RenyiCurve(rho: rho, penalty: penalty)
        guard canAfford(curve) else {
            throw .budgetExceeded(
                roundID: roundID, requestedRho: rho, requestedEpsilon: try curve.epsilon(delta: delta),
                epsilonAfter: (try? (spent + curve).epsilon(delta: delta)) ?? .infinity, remainingRho: rhoRemaining, spentRho: rhoSpent, limitRho: rhoLimit, budgetEpsilon: epsilonLimit,
                budgetDelta: delta)
        }
    }

    /// Charges a round before it starts, or refuses it.
    ///
    /// - Parameters:
    ///   - roundID: A new, unique identifier.
    ///   - placement: Where the noise is added.
    ///   - rho: The round's ρ (for distributed mode the Proposition-14 bound over [t_min, n_max], or the linear part
    ///     of the distributed accountant's curve).
    ///   - penalty: The round's η (0 for a zCDP charge).
    ///   - sigma: σ of the released sum's noise.
    ///   - localSigma: σ_local in distributed mode, else `nil`.
    ///   - minimumSurvivors: t_min.
    ///   - clip: The inputs' L2 clip norm (real units).
    ///   - bits: The modulus exponent.
    /// - Returns: The recorded entry (status ``BudgetEntry/Status/charged``).
    /// - Throws: `AccountingError.budgetExceeded` if it does not fit, ``AccountingError/duplicateRound(_:)`` for a
    ///   reused identifier, ``AccountingError/invalidParameter(name:value:requirement:)`` for a malformed value.
    ///   Nothing is recorded when it throws.
    @discardableResult
    public mutating func charge(
        roundID: String, placement: NoisePlacement, rho: Double, penalty: Double = 0, sigma: Double,
        localSigma: Double? = nil, minimumSurvivors: Int, clip: Double, bits: Int
    ) throws(AccountingError) -> BudgetEntry {
        guard entry(roundID: roundID) == nil else { throw .duplicateRound(roundID) }
        try AccountingError.require(sigma.isFinite && sigma > 0, "sigma", sigma, "a finite sigma > 0")
        if let localSigma {
            try AccountingError.require(
                localSigma.isFinite && localSigma > 0, "localSigma", localSigma, "a finite sigma > 0")
        }
        try AccountingError.require(minimumSurvivors >= 1, "minimumSurvivors", minimumSurvivors, "at least 1")
        try AccountingError.require(clip.isFinite && clip >= 0, "clip", clip, "a finite clip >= 0")
        try AccountingError.require(bits >= 1 && bits <= 64, "bits", bits, "1...64")
        try check(roundID: roundID, rho: rho, penalty: penalty)
        let curve = RenyiCurve(unchecked: rho, penalty: penalty)
        let entry = BudgetEntry(
            roundID: roundID, placement: placement, curve: curve, epsilon: try curve.epsilon(delta: delta),
            delta: delta, sigma: sigma,
            localSigma: localSigma, minimumSurvivors: minimumSurvivors, survivors: nil, clip: clip, bits: bits,
            status: .charged, note: nil)
        entries.append(entry)
        return entry
    }

    /// Charges one release of a calibration (its ``PrivacyCalibration/curvePerRelease``, σ, σ_local and t_min).
    ///
    /// - Throws: As ``charge(roundID:placement:rho:sigma:localSigma:minimumSurvivors:clip:bits:)``.
    @discardableResult
    public mutating func charge(roundID: String, calibration: PrivacyCalibration, clip: Double, bits: Int)
        throws(AccountingError) -> BudgetEntry
    {
        try charge(
            roundID: roundID, placement: calibration.parameters.placement, rho: calibration.curvePerRelease.rho,
            penalty: calibration.curvePerRelease.penalty, sigma: calibration.sigma, localSigma: calibration.localSigma,
            minimumSurvivors: calibration.parameters.minimumSurvivors, clip: clip, bits: bits)
    }

    /// Records that a charged round released its noisy sum of `survivors` inputs.
    ///
    /// - Throws: ``AccountingError/unknownRound(_:)``; ``AccountingError/invalidTransition(roundID:reason:)`` unless
    ///   the round is ``BudgetEntry/Status/charged``; ``AccountingError/invalidParameter(name:value:requirement:)``
    ///   if `survivors` is below the round's t_min (such a sum must never be released).
    public mutating func recordRelease(roundID: String, survivors: Int) throws(AccountingError) {
        let index = try pendingIndex(roundID: roundID)
        try AccountingError.require(
            survivors >= entries[index].minimumSurvivors, "survivors", survivors,
            "at least the round's minimum of \(entries[index].minimumSurvivors)")
        entries[index].survivors = survivors
        entries[index].status = .released
    }

    /// Records that a charged round aborted, and refunds it when nothing derived from the data can have been
    /// released (see the type's documentation).
    ///
    /// - Central mode: always refunded.
    /// - Distributed mode: refunded if `noisedInputsSent` is `false` (no client sent its noised masked input);
    ///   otherwise kept in full with status ``BudgetEntry/Status/aborted``.
    ///
    /// - Parameters:
    ///   - roundID: The round.
    ///   - noisedInputsSent: Whether any client sent its noised masked input before the abort (distributed mode;
    ///     pass `true` when unsure).
    ///   - reason: Why the round aborted, for the record.
    /// - Returns: The ρ refunded (0 when the round stays charged).
    /// - Throws: ``AccountingError/unknownRound(_:)``; ``AccountingError/invalidTransition(roundID:reason:)`` unless
    ///   the round is ``BudgetEntry/Status/charged``.
    @discardableResult
    public mutating func recordAbort(roundID: String, noisedInputsSent: Bool, reason: String) throws(AccountingError)
        -> Double
    {
        let index = try pendingIndex(roundID: roundID)
        entries[index].note = reason
        if entries[index].placement == .central || !noisedInputsSent {
            entries[index].status = .refunded
            return entries[index].rho
        }
        entries[index].status = .aborted
        return 0
    }

    private func pendingIndex(roundID: String) throws(AccountingError) -> Int {
        guard let index = entries.firstIndex(where: { $0.roundID == roundID }) else { throw .unknownRound(roundID) }
        guard entries[index].status == .charged else {
            throw .invalidTransition(
                roundID: roundID, reason: "the round is already \(entries[index].status.rawValue), not charged")
        }
        return index
    }

    private enum CodingKeys: String, CodingKey {
        case epsilon, delta, rhoLimit, entries
    }

    /// Decodes a persisted ledger and re-validates it: δ ∈ (0, 1), a finite ρ limit ≥ 0, unique round identifiers,
    /// and entries with finite ρ ≥ 0. A ledger that overspends (written by hand) still decodes — refusing further
    /// rounds is what matters — but a malformed one does not.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        epsilon = try container.decodeIfPresent(Double.self, forKey: .epsilon)
        delta = try container.decode(Double.self, forKey: .delta)
        rhoLimit = try container.decode(Double.self, forKey: .rhoLimit)
        entries = try container.decode([BudgetEntry].self, forKey: .entries)
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        try AccountingError.require(rhoLimit.isFinite && rhoLimit >= 0, "rhoLimit", rhoLimit, "a finite rho >= 0")
        if let epsilon {
            try AccountingError.require(epsilon.isFinite && epsilon >= 0, "epsilon", epsilon, "a finite epsilon >= 0")
        }
        var seen = Set<String>()
        for entry in entries {
            guard seen.insert(entry.roundID).inserted else { throw AccountingError.duplicateRound(entry.roundID) }
            try AccountingError.require(entry.rho.isFinite && entry.rho >= 0, "rho", entry.rho, "a finite rho >= 0")
            try AccountingError.require(
                entry.penalty.isFinite && entry.penalty >= 0, "penalty", entry.penalty, "a finite penalty >= 0")
        }
    }
}
