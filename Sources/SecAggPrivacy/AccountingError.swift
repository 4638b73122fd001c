#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Errors raised by the privacy accountant, the calibration and the privacy budget.
///
/// Every case describes a request that cannot be honoured (a parameter outside the range where the cited theorem
/// holds, a round that would overspend the budget, a modulus too small for the sum); none is an internal failure.
/// ``description`` is a complete sentence meant for an operator: it says what was asked, what the limit is, and
/// what to change.
public enum AccountingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A numeric argument is outside its domain (for example δ ∉ (0, 1), a negative ρ, or a local σ below 1/2,
    /// where Proposition 14 of Kairouz, Liu and Steinke does not apply).
    ///
    /// - Parameters:
    ///   - name: The argument's name, e.g. `"delta"`.
    ///   - value: The rejected value (as text, so integers and non-finite values print exactly).
    ///   - requirement: The condition it must satisfy, e.g. `"0 < delta < 1"`.
    case invalidParameter(name: String, value: String, requirement: String)

    /// Charging the round would exceed the privacy budget; nothing was recorded.
    ///
    /// - Parameters:
    ///   - roundID: The round that was refused.
    ///   - requestedRho: The round's zCDP cost ρ (the linear part of its Rényi curve when it has a penalty η).
    ///   - requestedEpsilon: The ε of the round alone at the budget's δ.
    ///   - epsilonAfter: The ε the task would have spent with this round, at the budget's δ (what is compared with
    ///     the budget once a charge has η > 0; then a ρ below the remaining ρ can still be refused).
    ///   - remainingRho: What is left of the budget, in ρ.
    ///   - spentRho: What earlier rounds already spent.
    ///   - limitRho: The whole budget, in ρ.
    ///   - budgetEpsilon: The budget's declared ε.
    ///   - budgetDelta: The budget's δ.
    case budgetExceeded(
        roundID: String, requestedRho: Double, requestedEpsilon: Double, epsilonAfter: Double, remainingRho: Double,
        spentRho: Double, limitRho: Double, budgetEpsilon: Double, budgetDelta: Double)

    /// A round with this identifier is already in the ledger (identifiers are never reused, even after a refund).
    case duplicateRound(String)

    /// No round with this identifier is in the ledger.
    case unknownRound(String)

    /// The round's entry cannot change this way (for example a refund of a distributed-mode round after clients
    /// sent their noised masked inputs, or recording the release of a refunded round).
    ///
    /// - Parameters:
    ///   - roundID: The round.
    ///   - reason: Why the change is refused.
    case invalidTransition(roundID: String, reason: String)

    /// No modulus 2^bits with bits ≤ `maximumBits` keeps the noisy sum from wrapping around.
    ///
    /// - Parameters:
    ///   - requiredBits: The bits needed (`Int.max` if the bound itself overflows 64-bit arithmetic).
    ///   - maximumBits: The largest modulus exponent allowed.
    ///   - signalBound: n · B, the largest possible |sum of inputs| in integer units (as text).
    ///   - noiseMargin: ⌈k · s⌉, the room reserved for the noise (as text).
    case insufficientBits(requiredBits: Int, maximumBits: Int, signalBound: String, noiseMargin: String)

    /// The target cannot be met with these parameters (for example the search for σ did not converge).
    case calibrationFailed(String)

    /// A sentence describing the failure and what to change.
    public var description: String {
        switch self {
        case .invalidParameter(let name, let value, let requirement):
            return "invalid \(name) = \(value): requires \(requirement)"
        case .budgetExceeded(
            let roundID, let requestedRho, let requestedEpsilon, let epsilonAfter, let remainingRho, let spentRho,
            let limitRho, let budgetEpsilon, let budgetDelta):
            return "round \"\(roundID)\" refused: it would cost rho = \(accountingFormatted(requestedRho)) "
                + "(epsilon = \(accountingFormatted(requestedEpsilon)) on its own at delta = "
                + "\(accountingFormatted(budgetDelta))) and bring the task to epsilon = "
                + "\(accountingFormatted(epsilonAfter)); only rho = \(accountingFormatted(remainingRho)) remains "
                + "of the budget rho = \(accountingFormatted(limitRho)) "
                + "(epsilon = \(accountingFormatted(budgetEpsilon)), delta = \(accountingFormatted(budgetDelta))); "
                + "already spent rho = \(accountingFormatted(spentRho)). "
                + "Increase sigma, lower the clip, run fewer rounds, or declare a larger budget."
        case .duplicateRound(let roundID):
            return "round \"\(roundID)\" is already in the privacy ledger; round identifiers must be unique"
        case .unknownRound(let roundID):
            return "round \"\(roundID)\" is not in the privacy ledger"
        case .invalidTransition(let roundID, let reason):
            return "round \"\(roundID)\": \(reason)"
        case .insufficientBits(let requiredBits, let maximumBits, let signalBound, let noiseMargin):
            let needed = requiredBits == Int.max ? "more than 64" : "\(requiredBits)"
            return "the noisy sum needs \(needed) bits (|sum of inputs| <= \(signalBound), noise margin "
                + "\(noiseMargin)) but at most \(maximumBits) are allowed; lower the per-coordinate bound "
                + "(clip or scale), the number of clients, sigma, or the number of standard deviations k"
        case .calibrationFailed(let reason):
            return "calibration failed: \(reason)"
        }
    }
}

extension AccountingError {
    /// Throws ``invalidParameter(name:value:requirement:)`` unless `condition` holds.
    static func require(
        _ condition: Bool, _ name: String, _ value: Double, _ requirement: String
    ) throws(AccountingError) {
        guard condition else {
            throw .invalidParameter(name: name, value: accountingFormatted(value), requirement: requirement)
        }
    }

    /// Throws ``invalidParameter(name:value:requirement:)`` unless `condition` holds (integer argument).
    static func require(
        _ condition: Bool, _ name: String, _ value: Int, _ requirement: String
    ) throws(AccountingError) {
        guard condition else {
            throw .invalidParameter(name: name, value: "\(value)", requirement: requirement)
        }
    }
}

/// `x` with about six significant digits, for messages (no Foundation in this layer).
func accountingFormatted(_ x: Double) -> String {
    guard x.isFinite, x != 0 else { return "\(x)" }
    let magnitude = abs(x)
    guard magnitude >= 1e-4, magnitude < 1e9 else { return "\(x)" }
    let exponent = Int(floor(log10(magnitude)))
    let scale = pow(10.0, Double(5 - exponent))
    let rounded = (x * scale).rounded() / scale
    if rounded == rounded.rounded(), abs(rounded) < 1e15 { return "\(Int(rounded))" }
    return "\(rounded)"
}
