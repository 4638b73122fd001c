import ArgumentParser
import Foundation
import SecAggPrivacy

/// `secagg dp plan`: the noise, privacy and modulus a release needs, without running a round.
struct DPCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dp", abstract: "Differential-privacy planning.", subcommands: [Plan.self])

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
}
