#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A bound on a mechanism's Rényi divergences of every order α > 1 of the form
/// D_α(M(x) ‖ M(x′)) ≤ α·ρ + (α/(α−1))·η for all neighbouring x, x′: the currency of the privacy ledger.
///
/// ρ-zCDP is the case η = 0 (a discrete Gaussian in central mode, or Proposition 14 in distributed mode). The
/// distributed accountant (``DistributedRenyiAccountant``) adds a small η for the sum of discrete Gaussians. The form
/// is closed under composition: running mechanisms with curves (ρ₁, η₁) and (ρ₂, η₂) on the same data, even
/// adaptively, has the curve (ρ₁ + ρ₂, η₁ + η₂), since Rényi divergences of each order add (Mironov 2017).
/// It converts to (ε, δ) directly (``epsilon(delta:)``), never through a zCDP reduction. Floating point is fine
/// here: it is only used for accounting, never for sampling noise.
public struct RenyiCurve: Sendable, Hashable, Codable, CustomStringConvertible {
    /// ρ ≥ 0: the part of the bound linear in α.
    public let rho: Double
    /// η ≥ 0: the part of the bound that is (α/(α−1))·η; 0 for a zCDP guarantee.
    public let penalty: Double

    /// No privacy loss.
    public static let zero = RenyiCurve(unchecked: 0, penalty: 0)

    /// Wraps ρ and η.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless both are finite and ≥ 0.
    public init(rho: Double, penalty: Double = 0) throws(AccountingError) {
        try AccountingError.require(rho.isFinite && rho >= 0, "rho", rho, "a finite rho >= 0")
        try AccountingError.require(penalty.isFinite && penalty >= 0, "penalty", penalty, "a finite penalty >= 0")
        self.init(unchecked: rho, penalty: penalty)
    }

    /// The curve α·ρ of a ρ-zCDP guarantee.
    public init(_ guarantee: ZCDP) {
        self.init(unchecked: guarantee.rho, penalty: 0)
    }

    init(unchecked rho: Double, penalty: Double) {
        self.rho = rho
        self.penalty = penalty
    }

    private enum CodingKeys: String, CodingKey { case rho, penalty }

    /// Decodes `{"rho": …, "penalty": …}` (a missing penalty is 0) and validates it like ``init(rho:penalty:)``.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            rho: container.decode(Double.self, forKey: .rho),
            penalty: container.decodeIfPresent(Double.self, forKey: .penalty) ?? 0)
    }

    /// Whether the curve is a zCDP guarantee (η = 0).
    public var isZCDP: Bool { penalty == 0 }

    /// The bound on D_α for α > 1: α·ρ + (α/(α−1))·η.
    public func divergence(order alpha: Double) -> Double {
        alpha * rho + (penalty == 0 ? 0 : alpha / (alpha - 1) * penalty)
    }

    /// Sequential composition: ρ and η add.
    public static func + (lhs: RenyiCurve, rhs: RenyiCurve) -> RenyiCurve {
        RenyiCurve(unchecked: lhs.rho + rhs.rho, penalty: lhs.penalty + rhs.penalty)
    }

    /// The composition of all `curves` (compensated sums, so long ledgers do not drift).
    public static func composition(of curves: some Sequence<RenyiCurve>) -> RenyiCurve {
        RenyiCurve(
            unchecked: PrivacyAccountant.compensatedSum(curves.lazy.map(\.rho)),
            penalty: PrivacyAccountant.compensatedSum(curves.lazy.map(\.penalty)))
    }

    /// The composition of `count` releases with this curve.
    public func repeated(_ count: Int) -> RenyiCurve {
        RenyiCurve(unchecked: rho * Double(count), penalty: penalty * Double(count))
    }

    /// The smallest ε such that the curve implies (ε, δ)-DP, by Canonne, Kamath and Steinke (2020, Proposition 12)
    /// applied to the curve itself: ε = inf_{α>1} D_α + log(1 − 1/α) − (log α + log δ)/(α − 1). For η = 0 this is
    /// exactly ``PrivacyAccountant/epsilon(rho:delta:)``. Any α yields a valid bound, so an imperfect minimisation can
    /// only make ε slightly larger, never unsafe.
    ///
    /// - Throws: ``AccountingError/invalidParameter(name:value:requirement:)`` unless 0 < δ < 1.
    public func epsilon(delta: Double) throws(AccountingError) -> Double {
        if penalty == 0 { return try PrivacyAccountant.epsilon(rho: rho, delta: delta) }
        try AccountingError.require(delta > 0 && delta < 1, "delta", delta, "0 < delta < 1")
        if !rho.isFinite || !penalty.isFinite { return .infinity }
        let logInverseDelta = -log(delta)
        let (_, best) = PrivacyAccountant.minimiseOverLogScale { u in
            let a = exp(u)
            return (1 + a) * rho + (1 + a) / a * penalty - log1p(1 / a) + (logInverseDelta - log1p(a)) / a
        }
        return max(0, best)
    }

    /// `"rho=… penalty=…"`.
    public var description: String { penalty == 0 ? "rho=\(rho)" : "rho=\(rho) penalty=\(penalty)" }
}
