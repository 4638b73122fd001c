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
                the total. Bits follow the rule round validation enforces (sum + 8σ of noise, signed).
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
            do throws(AccountingError) {
                if let epsilonPerRound {
                    // σ for one round at the per-round target, then the privacy of that σ over all the rounds.
                    var single = parameters
                    single.rounds = 1
                    let round = try PrivacyCalibration.calibrate(epsilon: epsilonPerRound, parameters: single)
                    calibration = try PrivacyCalibration.calibrate(
                        epsilon: nil, orSigma: placement == .central ? round.sigma : round.localSigma,
                        parameters: parameters)
                } else {
                    calibration = try PrivacyCalibration.calibrate(epsilon: epsilon, orSigma: sigma, parameters: parameters)
                }
            } catch {
                throw CommandFailure("\(error)")
            }
            let entryBound = bound ?? Int(clip.rounded(.up))
            let bits = try? calibration.requiredBits(coordinateBound: entryBound)
            let rmseAtMinimum = try? calibration.predictedRMSE(survivors: minimumSurvivors)
            let rmseAtMaximum = try? calibration.predictedRMSE(survivors: clients)
            let statement = try? PrivacyStatement(calibration)
            // The Rényi accountant's figure for the same σ per client (distributed noise only): what the sum of
            // t_min shares actually guarantees, next to Proposition 14's charge.
            var renyi: (addRemove: Double, replaceOne: Double)?
            if placement == .distributed, let local = calibration.localSigma,
               let addRemove = try? DistributedRenyiAccountant.epsilon(
                   delta: delta, rounds: rounds, l2Sensitivity: clip, dimension: dimension, localSigma: local,
                   minimumSurvivors: minimumSurvivors),
               let replaceOne = try? DistributedRenyiAccountant.epsilon(
                   delta: delta, rounds: rounds, l2Sensitivity: 2 * clip, dimension: dimension, localSigma: local,
                   minimumSurvivors: minimumSurvivors)
            {
                renyi = (addRemove, replaceOne)
            }
            if json {
                var object: [String: Any] = [
                    "noise": placement.rawValue, "epsilon": calibration.epsilon, "delta": calibration.delta,
                    "epsilon_per_round": calibration.epsilonPerRelease, "rho": calibration.rhoTotal,
                    "rho_per_round": calibration.rhoPerRelease, "sigma": calibration.sigma, "rounds": rounds,
                    "warnings": calibration.warnings.map { "\($0)" },
                ]
                if let local = calibration.localSigma { object["sigma_per_client"] = local }
                if let bits { object["bits"] = bits.bits }
                if let rmseAtMinimum { object["rmse_at_min_survivors"] = rmseAtMinimum }
                if let rmseAtMaximum { object["rmse_at_all_clients"] = rmseAtMaximum }
                if let statement {
                    for (key, value) in statement.fields { object[key] = value }
                    object["privacy_assumption"] = statement.assumption
                }
                if let renyi {
                    object["epsilon_renyi_add_remove"] = renyi.addRemove
                    object["epsilon_renyi_replace_one"] = renyi.replaceOne
                }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("\(placement) noise for \(rounds) release(s) of \(dimension) entries, Δ₂ = \(clip), "
                  + "\(minimumSurvivors)...\(clients) survivors")
            print(String(format: "privacy: ε = %.4g, δ = %.3g (ρ = %.4g zCDP in total; ε = %.4g, ρ = %.4g per round)",
                         calibration.epsilon, calibration.delta, calibration.rhoTotal, calibration.epsilonPerRelease,
                         calibration.rhoPerRelease))
            if let statement {
                print("  \(statement.relation)")
                print("  \(statement.assumption)")
            }
            if placement == .distributed {
                if let renyi {
                    print(String(format: "  Rényi accountant (the sum of t_min shares): ε = %.4g add/remove, %.4g replace-one; "
                                 + "the budget is charged Proposition 14's figure above", renyi.addRemove, renyi.replaceOne))
                } else {
                    print("  Rényi accountant: not applicable at this σ per client and t_min (E ≥ 1/2); Proposition 14 only")
                }
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
            for warning in calibration.warnings { print("warning: \(warning)") }
        }
    }

    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the distributed-noise accountants with the worst neighbouring pair, over a grid.",
            discussion: """
                For each case (clients N, t_min as a fraction of N, dimension d, clip c) the σ per client is calibrated \
                as `dp plan --epsilon-per-round` does (Proposition 14). Printed: that charge (ε of Proposition 14), \
                the Rényi accountant's ε for the same σ (the sum of t_min shares), and the exact ε of the worst pair \
                exhibited — an integer shift ⌊c⌋ of one coordinate under the sum of t_min shares, its pmf computed \
                from the characteristic function (or, where the sum is too wide to tabulate, under N_Z(0, t_min·σ²), \
                which it then equals) — with the ratio of each accountant to it. Add/remove neighbours, one round.
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
                print("    N   t_min        d     c  σ/client   ε Prop.14   ε Rényi   ε worst pair   Prop.14/pair   Rényi/pair")
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
                            let renyi = try? DistributedRenyiAccountant.epsilon(
                                delta: delta, l2Sensitivity: clip, dimension: dimension, localSigma: local, minimumSurvivors: minimum)
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
                                    "sigma_per_client": local, "epsilon_proposition14": claimed, "epsilon_worst_pair": pair,
                                ]
                                if let renyi { object["epsilon_renyi"] = renyi }
                                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                                print(String(decoding: data, as: UTF8.self))
                            } else {
                                let renyiText = renyi.map { String(format: "%9.4g", $0) } ?? "      n/a"
                                let ratio = renyi.map { String(format: "%10.3f", $0 / pair) } ?? "       n/a"
                                print(String(format: "%5d %7d %8d %5g %9.4f %11.4g %@ %14.4g %14.2f %@",
                                             count, minimum, dimension, clip, local, claimed, renyiText, pair, claimed / pair, ratio))
                            }
                        }
                    }
                }
            }
        }
    }
}
