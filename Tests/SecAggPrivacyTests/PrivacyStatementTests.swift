import Foundation
import Testing

@testable import SecAggPrivacy

/// ε under both neighbouring relations, and the assumption printed with it.
@Suite("Privacy statement")
struct PrivacyStatementTests {
    /// Central noise: replace-one doubles Δ₂, so ρ is exactly four times the add/remove ρ (ρ = Δ₂²/(2σ²)); the
    /// statement's replace-one ε must be the conversion of that ρ, computed here from the closed form.
    @Test(arguments: [1, 10])
    func centralReplaceOneIsFourTimesRho(rounds: Int) throws {
        let parameters = PrivacyCalibration.Parameters(
            placement: .central, l2Sensitivity: 100, dimension: 1_000, minimumSurvivors: 50, maximumSurvivors: 100,
            delta: 1e-6, rounds: rounds)
        let calibration = try PrivacyCalibration.calibrate(epsilon: 1, parameters: parameters)
        let statement = try PrivacyStatement(calibration)
        let rhoPerRound = 200.0 * 200.0 / (2 * calibration.sigma * calibration.sigma)
        #expect(abs(statement.epsilonPerRoundReplaceOne
            - (try PrivacyAccountant.epsilon(rho: rhoPerRound, delta: 1e-6))) < 1e-9)
        #expect(abs(statement.epsilonReplaceOne
            - (try PrivacyAccountant.epsilon(rho: rhoPerRound * Double(rounds), delta: 1e-6))) < 1e-9)
        #expect(statement.epsilon == calibration.epsilon)
        // Roughly twice the add/remove ε at small ε (ε ≈ 2√(ρ log 1/δ) doubles with Δ₂), never less.
        #expect(statement.epsilonReplaceOne > 1.8 * statement.epsilon)
        #expect(statement.assumption.contains("sees the noise-free sum"))
    }

    /// Distributed noise: the replace-one figure is Proposition 14 with Δ₂ doubled at the same σ per client, and the
    /// assumption names t_min.
    @Test func distributedNamesTheHonestSurvivors() throws {
        let parameters = PrivacyCalibration.Parameters(
            placement: .distributed, l2Sensitivity: 100, dimension: 10_000, minimumSurvivors: 900,
            maximumSurvivors: 1_000, delta: 1e-6, rounds: 1)
        let calibration = try PrivacyCalibration.calibrate(epsilon: 1, parameters: parameters)
        let statement = try PrivacyStatement(calibration)
        let local = try #require(calibration.localSigma)
        let doubled = try PrivacyAccountant.distributedRho(
            l2Sensitivity: 200, localSigma: local, survivors: 900...1_000, dimension: 10_000)
        #expect(abs(statement.epsilonReplaceOne - (try PrivacyAccountant.epsilon(rho: doubled, delta: 1e-6))) < 1e-9)
        #expect(statement.epsilonReplaceOne > statement.epsilon)
        #expect(statement.assumption.contains("t_min = 900 honest clients"))
        #expect(statement.relation.contains("add/remove one client"))
        #expect(statement.fields["epsilon_add_remove"] == calibration.epsilon)
    }
}
