import ArgumentParser
import Foundation
import SecAggPrivacy

/// `secagg dp plan`: the noise, privacy and modulus a release needs, without running a round.
struct DPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dp", abstract: "Differential-privacy planning.", subcommands: [Plan.self, Audit.self])

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compute σ (total and per client), bits, ρ and the expected error for a release.",
            discussion: """
                Distributed noise is sized for the fewest survivors a round accepts (--min-survivors): each client \
                adds σ²/t_min, so any accepted release carries at least σ². With --sigma instead of --epsilon, \
                the ε it achieves is reported (σ per client for distributed noise, of the release for central). \
                --epsilon is the total over --rounds; --epsilon-per-round sizes each round for that ε and reports \
                the total. Distributed noise is charged by whichever accountant gives the smaller ε: the Rényi curve \
                of the sum of t_min shares (close to the exact ε) or Proposition 14 (closed form); the other is \
                printed as a cross-check. Bits follow the rule round validation enforces (sum + 8σ of noise, signed).
                """)

        @Option(help: "Clients that may be summed (n_max).") var clients: Int
        @Option(name: .customLong("min-survivors"), help: "Fewest survivors a round accepts (t_min).") var minimumSurvivors: Int
        @Option(help: "Entries per vector.") var dimension: Int
        @Option(help: "L2 sensitivity Δ₂ of one client's vector, in integer units (its clip norm).") var clip: Double
        @Option(help: "Largest absolute value of one entry of one client's vector (for the bits).") var bound: Int?
        @Option(help: "Target ε of all the rounds together (see --rounds).") var epsilon: Double?
        @Option(name: .customLong("epsilon-per-round"),
                help: "Target ε of each round instead; the total over --rounds is reported (rounds compose by ρ).")
        var epsilonPerRound: Double?
        @Option(help: "σ instead of ε.") var sigma: Double?
        @Option(help: "δ.") var delta: Double = 1e-6
        @Option(help: "Releases that compose (rounds).") var rounds: Int = 1
        @Option(help: "distributed or central.") var noise: String = "distributed"
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            guard let placement = NoisePlacement(rawValue: noise) else {
                throw ValidationError("--noise must be distributed or central")
            }
            guard [epsilon, epsilonPerRound, sigma].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --epsilon, --epsilon-per-round and --sigma")
            }
            let parameters = PrivacyCalibration.Parameters(
                placement: placement, l2Sensitivity: clip, dimension: dimension, minimumSurvivors: minimumSurvivors,
                maximumSurvivors: clients, delta: delta, rounds: rounds)
            let calibration: PrivacyCalibration
            // What the per-round calibration had to say (a σ raised above what the target needs) is said too.
            var warnings: [CalibrationWarning] = []
            do throws(AccountingError) {
                if let epsilonPerRound {
                    // σ for one round at the per-round target, then the privacy of that σ over all the rounds.
                    var single = parameters
                    single.rounds = 1
                    let round = try PrivacyCalibration.calibrate(epsilon: epsilonPerRound, parameters: single)
                    calibration = try PrivacyCalibration.calibrate(
                        epsilon: nil, orSigma: placement == .central ? round.sigma : round.localSigma,
                        parameters: parameters)
                    warnings = round.warnings.filter { !calibration.warnings.contains($0) }
                } else {
                    calibration = try PrivacyCalibration.calibrate(epsilon: epsilon, orSigma: sigma, parameters: parameters)
                }
                warnings += calibration.warnings
            } catch {
                throw CommandFailure("\(error)")
            }
            let entryBound = bound ?? Int(clip.rounded(.up))
            let bits = try? calibration.requiredBits(coordinateBound: entryBound)
            let rmseAtMinimum = try? calibration.predictedRMSE(survivors: minimumSurvivors)
            let rmseAtMaximum = try? calibration.predictedRMSE(survivors: clients)
            let statement = try? PrivacyStatement(calibration)
            // Both distributed accountants for the same σ per client, add/remove: the one charged and the other as a
            // cross-check (Proposition 14 is the closed form; the Rényi curve is the sum of t_min shares itself).
            var crossCheck: (proposition14: Double?, renyi: Double?)?
            if placement == .distributed, let local = calibration.localSigma {
                let proposition14 = (try? PrivacyAccountant.distributedRho(
                    l2Sensitivity: clip, localSigma: local, survivors: minimumSurvivors...clients, dimension: dimension))
                    .flatMap { try? PrivacyAccountant.epsilon(rho: $0 * Double(rounds), delta: delta) }
                let renyi = try? DistributedRenyiAccountant.epsilon(
                    delta: delta, rounds: rounds, l2Sensitivity: clip, dimension: dimension, localSigma: local,
                    minimumSurvivors: minimumSurvivors)
                crossCheck = (proposition14, renyi ?? nil)
            }
            if json {
                var object: [String: Any] = [
                    "noise": placement.rawValue, "epsilon": calibration.epsilon, "delta": calibration.delta,
                    "epsilon_per_round": calibration.epsilonPerRelease, "rho": calibration.rhoTotal,
                    "rho_per_round": calibration.rhoPerRelease, "sigma": calibration.sigma, "rounds": rounds,
                    "accountant": calibration.accountant.rawValue,
                    "penalty_per_round": calibration.curvePerRelease.penalty,
                    "warnings": warnings.map { "\($0)" },
                ]
                if let local = calibration.localSigma { object["sigma_per_client"] = local }
                if let bits { object["bits"] = bits.bits }
                if let rmseAtMinimum { object["rmse_at_min_survivors"] = rmseAtMinimum }
                if let rmseAtMaximum { object["rmse_at_all_clients"] = rmseAtMaximum }
                if let statement {
                    for (key, value) in statement.fields { object[key] = value }
                    object["privacy_assumption"] = statement.assumption
                }
                if let proposition14 = crossCheck?.proposition14 { object["epsilon_proposition14_add_remove"] = proposition14 }
                if let renyi = crossCheck?.renyi { object["epsilon_renyi_add_remove"] = renyi }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("\(placement) noise for \(rounds) release(s) of \(dimension) entries, Δ₂ = \(clip), "
                  + "\(minimumSurvivors)...\(clients) survivors")
            let curve = calibration.curvePerRelease
            let perRound = curve.isZCDP
                ? String(format: "ρ = %.4g zCDP", curve.rho)
                : String(format: "Rényi curve αρ + α/(α−1)·η, ρ = %.4g, η = %.3g", curve.rho, curve.penalty)
            print(String(format: "privacy: ε = %.4g, δ = %.3g over all rounds; ε = %.4g per round (%@)",
                         calibration.epsilon, calibration.delta, calibration.epsilonPerRelease, perRound))
            print("  accountant charged: \(calibration.accountant.label)")
            if let statement {
                print("  \(statement.relation)")
                print("  \(statement.assumption)")
            }
            if let crossCheck {
                let figure = { (value: Double?) in value.map { String(format: "%.4g", $0) } ?? "n/a" }
                print("  cross-check, add/remove, all rounds: Proposition 14 ε = \(figure(crossCheck.proposition14)); "
                      + "Rényi curve of the sum ε = \(figure(crossCheck.renyi))"
                      + (crossCheck.renyi == nil ? " (not applicable: σ per client too small for t_min)" : ""))
            }
            print(String(format: "σ of the release: %.4f", calibration.sigma)
                  + (calibration.localSigma.map { String(format: "   σ per client: %.4f", $0) } ?? ""))
            if let rmseAtMinimum, let rmseAtMaximum {
                print(String(format: "expected error (RMSE per entry): %.3f with %d survivors, %.3f with %d",
                             rmseAtMinimum, minimumSurvivors, rmseAtMaximum, clients))
            }
            if let bits {
                print("bits needed: \(bits.bits) (entries up to ±\(entryBound), noise margin ±\(bits.noiseMargin))")
            }
            for warning in warnings { print("warning: \(warning)") }
        }
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the distributed-noise accountants with the worst neighbouring pair, over a grid.",
            discussion: """
                For each case (clients N, t_min as a fraction of N, dimension d, clip c) the σ per client is calibrated \
                as `dp plan --epsilon-per-round` does (the accountant with the smaller ε). Printed: the accountant \
                charged and its ε, Proposition 14's ε for the same σ (the closed-form cross-check), and the exact ε of \
                the worst pair exhibited — an integer shift ⌊c⌋ of one coordinate under the sum of t_min shares, its \
                pmf computed from the characteristic function (or, where the sum is too wide to tabulate, under \
                N_Z(0, t_min·σ²), which it then equals) — with the ratio of each to it. Add/remove neighbours, one \
                round; the figures assume t_min honest survivors.
                """)

        @Option(help: "Target ε per round for the calibration.") var epsilon: Double = 1
        @Option(help: "δ.") var delta: Double = 1e-6
        @Option(help: "Client counts N (comma-separated).") var clients: String = "100,1000,10000"
        @Option(name: .customLong("min-survivor-fractions"), help: "t_min / N (comma-separated).")
        var fractions: String = "0.5,0.7,0.9"
        @Option(help: "Dimensions d (comma-separated).") var dimensions: String = "10,10000,1000000"
        @Option(help: "Clip norms c (comma-separated).") var clips: String = "1,100"
        @Flag(help: "One JSON object per line.") var json = false

        func run() throws {
            func list<T: LosslessStringConvertible>(_ text: String, _ name: String) throws -> [T] {
                let values = text.split(separator: ",").compactMap { T(String($0).trimmingCharacters(in: .whitespaces)) }
                guard !values.isEmpty else { throw ValidationError("--\(name) needs comma-separated values") }
                return values
            }
            let counts: [Int] = try list(clients, "clients")
            let shares: [Double] = try list(fractions, "min-survivor-fractions")
            let widths: [Int] = try list(dimensions, "dimensions")
            let norms: [Double] = try list(clips, "clips")
            if !json {
                print(String(format: "ε at δ = %.3g, one round, for neighbouring rounds that %@; distributed noise: "
                             + "holds while a released sum carries the noise of at least t_min honest clients", delta,
                             "\(NeighbouringRelation.addOrRemove)"))
                print("    N   t_min        d     c  σ/client  charged    ε charged   ε Prop.14   ε worst pair   charged/pair   Prop.14/pair")
            }
            for count in counts {
                for share in shares {
                    let minimum = max(1, Int((share * Double(count)).rounded()))
                    for dimension in widths {
                        for clip in norms {
                            let parameters = PrivacyCalibration.Parameters(
                                placement: .distributed, l2Sensitivity: clip, dimension: dimension,
                                minimumSurvivors: minimum, maximumSurvivors: count, delta: delta, rounds: 1)
                            let calibration: PrivacyCalibration
                            do { calibration = try PrivacyCalibration.calibrate(epsilon: epsilon, parameters: parameters) } catch {
                                throw CommandFailure("N=\(count) t_min=\(minimum) d=\(dimension) c=\(clip): \(error)")
                            }
                            let local = calibration.localSigma ?? calibration.sigma
                            let claimed = calibration.epsilon
                            let proposition14 = (try? PrivacyAccountant.distributedRho(
                                l2Sensitivity: clip, localSigma: local, survivors: minimum...count, dimension: dimension))
                                .flatMap { try? PrivacyAccountant.epsilon(rho: $0, delta: delta) }
                            // The sum of t_min shares itself where it can be tabulated; its discrete Gaussian envelope
                            // elsewhere (there E is negligible: the two agree).
                            let shift = Int(clip.rounded(.down))
                            let pair = try DistributedRenyiAccountant.sumShiftEpsilon(
                                localSigma: local, summands: minimum, shift: shift, delta: delta)
                                ?? DistributedRenyiAccountant.shiftEpsilon(
                                    variance: Double(minimum) * local * local, shift: shift, delta: delta)
                            if json {
                                var object: [String: Any] = [
                                    "clients": count, "min_survivors": minimum, "dimension": dimension, "clip": clip,
                                    "sigma_per_client": local, "accountant": calibration.accountant.rawValue,
                                    "epsilon": claimed, "epsilon_worst_pair": pair, "delta": delta,
                                    "neighbouring": NeighbouringRelation.addOrRemove.rawValue,
                                ]
                                if let proposition14 { object["epsilon_proposition14"] = proposition14 }
                                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                                print(String(decoding: data, as: UTF8.self))
                            } else {
                                let name = calibration.accountant == .distributedRenyi ? "Rényi  " : "Prop.14"
                                let closedForm = proposition14.map { String(format: "%11.4g", $0) } ?? "        n/a"
                                let closedRatio = proposition14.map { String(format: "%14.2f", $0 / pair) } ?? "           n/a"
                                print(String(format: "%5d %7d %8d %5g %9.4f  %@ %11.4g %@ %14.4g %14.3f %@",
                                             count, minimum, dimension, clip, local, name, claimed, closedForm, pair,
                                             claimed / pair, closedRatio))
                            }
                        }
                    }
                }
            }
        }
    }
}
