/// Which pairs of inputs an ε is a promise about.
///
/// secagg charges budgets and calibrates noise for ``addOrRemove``; ``replaceOne`` is the other common convention,
/// and the tools print both so that an ε is never compared with one computed under the other relation.
public enum NeighbouringRelation: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Two rounds differ by one client's vector being in the sum or not (equivalently, replaced by zeros): the sums
    /// differ by at most Δ₂, the encoded norm bound. What calibration, ledgers and budgets use.
    case addOrRemove = "add_remove"
    /// Two rounds differ by one client's vector being replaced by any other: the sums differ by at most 2Δ₂, so
    /// the same noise gives a larger ε (about twice as large for small ε).
    case replaceOne = "replace_one"

    /// How many Δ₂ two neighbouring sums can be apart.
    public var sensitivityFactor: Double {
        switch self {
        case .addOrRemove: return 1
        case .replaceOne: return 2
        }
    }

    /// `add/remove one client` or `replace one client`.
    public var description: String {
        switch self {
        case .addOrRemove: return "add/remove one client"
        case .replaceOne: return "replace one client"
        }
    }
}

/// What a calibration's ε means, in the words every tool prints next to it: ε under both neighbouring relations,
/// and the trust assumption it rests on (which placement of the noise, how many honest survivors).
///
/// A bare ε is easy to misread: the replace-one figure of the same noise is about twice the add/remove one, and
/// distributed noise protects the sum from the coordinator only while enough honest clients' noise is in it.
public struct PrivacyStatement: Sendable, Hashable {
    /// ε of all rounds together, at ``delta``, for ``NeighbouringRelation/addOrRemove`` (what budgets charge).
    public let epsilon: Double
    /// ε of one round, add/remove.
    public let epsilonPerRound: Double
    /// ε of all rounds together for ``NeighbouringRelation/replaceOne`` (Δ₂ doubled, same noise).
    public let epsilonReplaceOne: Double
    /// ε of one round, replace-one.
    public let epsilonPerRoundReplaceOne: Double
    /// δ of every figure.
    public let delta: Double
    /// Where the noise is added.
    public let placement: NoisePlacement
    /// t_min: the fewest survivors whose noise a released sum carries (distributed noise).
    public let minimumSurvivors: Int

    /// The same noise judged under each relation.
    ///
    /// - Throws: ``AccountingError`` if the replace-one evaluation fails (it uses the calibration's own σ, so it
    ///   fails only where the calibration itself would).
    public init(_ calibration: PrivacyCalibration) throws(AccountingError) {
        var doubled = calibration.parameters
        doubled.l2Sensitivity *= NeighbouringRelation.replaceOne.sensitivityFactor
        doubled.l1Sensitivity = doubled.l1Sensitivity.map { $0 * NeighbouringRelation.replaceOne.sensitivityFactor }
        let replaced = try PrivacyCalibration.calibrate(
            epsilon: nil, orSigma: calibration.localSigma ?? calibration.sigma, parameters: doubled)
        epsilon = calibration.epsilon
        epsilonPerRound = calibration.epsilonPerRelease
        epsilonReplaceOne = replaced.epsilon
        epsilonPerRoundReplaceOne = replaced.epsilonPerRelease
        delta = calibration.delta
        placement = calibration.parameters.placement
        minimumSurvivors = calibration.parameters.minimumSurvivors
    }

    /// The relation the headline ε is for, and what the other relation gives.
    public var relation: String {
        let perRound = epsilonPerRoundReplaceOne == epsilonReplaceOne
            ? "" : " (\(accountingFormatted(epsilonPerRoundReplaceOne)) per round)"
        return "ε is for neighbouring rounds that \(NeighbouringRelation.addOrRemove) (its vector in the sum or not); "
            + "for \(NeighbouringRelation.replaceOne) the same noise gives ε = "
            + "\(accountingFormatted(epsilonReplaceOne))\(perRound)"
    }

    /// The trust the guarantee rests on.
    public var assumption: String {
        switch placement {
        case .distributed:
            return "distributed noise: holds against the coordinator and everyone else while the released sum "
                + "carries the noise of at least t_min = \(minimumSurvivors) honest clients (that add their share "
                + "and reveal it to nobody); a round with fewer survivors is not released"
        case .central:
            return "central noise: the coordinator adds the noise after unmasking, so it sees the noise-free sum; "
                + "ε protects the released sum from everyone else"
        }
    }

    /// Fields for JSON output, snake_case like every other machine-readable answer.
    public var fields: [String: Double] {
        [
            "epsilon_add_remove": epsilon, "epsilon_replace_one": epsilonReplaceOne,
            "epsilon_per_round_add_remove": epsilonPerRound,
            "epsilon_per_round_replace_one": epsilonPerRoundReplaceOne,
        ]
    }
}
