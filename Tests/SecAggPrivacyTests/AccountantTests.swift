import Foundation
import Testing

@testable import SecAggPrivacy

/// |actual − expected| ≤ tolerance · |expected| (or ≤ tolerance when expected is 0).
private func close(_ actual: Double, _ expected: Double, relative tolerance: Double) -> Bool {
    expected == 0 ? abs(actual) <= tolerance : abs(actual - expected) <= tolerance * abs(expected)
}

/// The privacy accountant: releases, conversion, calibration, budget and modulus.
@Suite struct AccountantTests {}

// MARK: - Releases

extension AccountantTests {
    @Suite struct Releases {
        @Test func centralRhoIsTheClosedForm() throws {
            #expect(try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: 3, sigma: 2) == 9.0 / 8.0)
            #expect(try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: 0, sigma: 2) == 0)
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: 1, sigma: 0)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: -1, sigma: 1)
            }
        }

        /// Where τ is negligible (σ_local ≥ 2), Proposition 14 reduces to the central closed form with n·σ_local².
        @Test(arguments: [2.0, 3.0, 10.0, 250.0], [1, 2, 10, 100, 5_000])
        func distributedMatchesClosedFormWhenTauIsNegligible(localSigma: Double, clients: Int) throws {
            for (delta2, dimension) in [(1.0, 1), (25.0, 1_000), (1e4, 100_000)] {
                let rho = try PrivacyAccountant.distributedRho(
                    l2Sensitivity: delta2, localSigma: localSigma, survivors: clients...clients, dimension: dimension)
                let closed = delta2 * delta2 / (2 * Double(clients) * localSigma * localSigma)
                #expect(close(rho, closed, relative: 1e-12), "rho \(rho) vs \(closed)")
            }
        }

        @Test func oneClientIsExactlyTheCentralMechanism() throws {
            for sigma in [0.5, 0.7, 1.3, 4.0] {
                let distributed = try PrivacyAccountant.distributedRho(
                    l2Sensitivity: 7, localSigma: sigma, survivors: 1...1, dimension: 50)
                let central = try PrivacyAccountant.discreteGaussianRho(l2Sensitivity: 7, sigma: sigma)
                #expect(close(distributed, central, relative: 1e-15))
            }
        }

        @Test func tauGrowsAsSigmaShrinksAndAsClientsGrow() throws {
            #expect(try PrivacyAccountant.distributedTau(localSigma: 0.5, summands: 1) == 0)
            let sigmas = [3.0, 2.0, 1.5, 1.0, 0.75, 0.5]
            let taus = try sigmas.map { try PrivacyAccountant.distributedTau(localSigma: $0, summands: 100) }
            for (smaller, larger) in zip(taus, taus.dropFirst()) { #expect(smaller < larger) }
            let byClients = try [2, 10, 100, 10_000, 100_000].map {
                try PrivacyAccountant.distributedTau(localSigma: 0.8, summands: $0)
            }
            for (smaller, larger) in zip(byClients, byClients.dropFirst()) { #expect(smaller < larger) }
            // and the privacy loss follows: smaller local sigma at fixed total noise costs more
            let atTwo = try PrivacyAccountant.distributedRho(
                l2Sensitivity: 2, localSigma: 2, survivors: 100...100, dimension: 1_000)
            let atHalf = try PrivacyAccountant.distributedRho(
                l2Sensitivity: 0.5, localSigma: 0.5, survivors: 100...100, dimension: 1_000)
            #expect(close(atTwo, 4.0 / 800, relative: 1e-12))
            #expect(atHalf > 100 * atTwo)  // same Δ/σ ratio, but τ·d dominates at σ = 1/2
        }

        /// Reference values from a Python transcription of the authors' code (google-research/federated,
        /// distributed_dp/accounting_utils.py: the τ loop in `ddgauss_epsilon`), evaluated in double precision.
        @Test func tauMatchesTheAuthorsFormula() throws {
            #expect(
                close(
                    try PrivacyAccountant.distributedTau(localSigma: 0.5, summands: 10), 2.3453253192467702,
                    relative: 1e-13))
            #expect(
                close(
                    try PrivacyAccountant.distributedTau(localSigma: 1, summands: 2), 0.0005172318620381233,
                    relative: 1e-13))
            #expect(
                close(
                    try PrivacyAccountant.distributedTau(localSigma: 2, summands: 1_000), 7.157179647609446e-17,
                    relative: 1e-12))
            // Beyond 10,000 terms the tail is bounded from above: never below the exact sum, and close to it.
            let large = try PrivacyAccountant.distributedTau(localSigma: 0.5, summands: 50_000)
            #expect(large >= 3600.663549511257 && large <= 3600.663549511257 * 1.0005)
            let million = try PrivacyAccountant.distributedTau(localSigma: 1, summands: 1_000_000)
            #expect(million >= 0.027302908098289017 && million <= 0.027302908098289017 * 1.002)
        }

        /// ρ of Proposition 14 where τ matters. References: sup over α = 1 + 10^−12 … 10^4 of the authors' Rényi bound
        /// (`compute_rdp_dgaussian` transcribed to Python) divided by α, i.e. an independent numerical zCDP reduction.
        @Test(arguments: [
            (1.0, nil as Double?, 0.5, 10, 1, 2.5453253192444247),
            (5.0, nil, 1.0, 100, 10, 0.1258676303450594),
            (3.0, nil, 0.75, 1_000, 100, 2.4739174319583657),
            (3.0, 9.0, 0.75, 1_000, 100, 2.288163058223972),
            (10.0, nil, 2.0, 50, 1_000, 0.2500000000000015),
        ])
        func distributedRhoMatchesNumericalReduction(
            l2: Double, l1: Double?, sigma: Double, clients: Int, dimension: Int, expected: Double
        ) throws {
            let rho = try PrivacyAccountant.distributedRho(
                l2Sensitivity: l2, l1Sensitivity: l1, localSigma: sigma, survivors: clients...clients,
                dimension: dimension)
            #expect(close(rho, expected, relative: 1e-9), "rho \(rho) vs \(expected)")
        }

        /// ρ is the least value with D_α ≤ αρ for every α ≥ 1 and is attained at α = 1.
        @Test func rhoIsTheSupremumOfTheRenyiBoundOverAlpha() throws {
            for (l2, l1, sigma, n, d) in [
                (1.0, nil as Double?, 0.5, 10, 1), (3.0, 9.0, 0.75, 1_000, 100), (40.0, nil, 1.0, 30, 5_000),
                (2.0, nil, 3.0, 7, 10),
            ] {
                let rho = try PrivacyAccountant.distributedRho(
                    l2Sensitivity: l2, l1Sensitivity: l1, localSigma: sigma, survivors: n...n, dimension: d)
                let atOne = try PrivacyAccountant.distributedRenyiBound(
                    order: 1, l2Sensitivity: l2, l1Sensitivity: l1, localSigma: sigma, summands: n, dimension: d)
                #expect(close(atOne, rho, relative: 1e-14))
                for alpha in [1.000001, 1.01, 1.5, 2, 4, 16, 64, 1_000, 1e6] {
                    let bound = try PrivacyAccountant.distributedRenyiBound(
                        order: alpha, l2Sensitivity: l2, l1Sensitivity: l1, localSigma: sigma, summands: n, dimension: d
                    )
                    #expect(bound <= alpha * rho * (1 + 1e-12))
                }
            }
        }

        /// A survivor range is charged at t_min for the signal and at n_max for τ: at least the bound of every n in it.
        @Test func survivorRangeCoversEveryCount() throws {
            let range = 40...100
            let ranged = try PrivacyAccountant.distributedRho(
                l2Sensitivity: 4, localSigma: 0.9, survivors: range, dimension: 200)
            for n in [40, 41, 60, 99, 100] {
                let exact = try PrivacyAccountant.distributedRho(
                    l2Sensitivity: 4, localSigma: 0.9, survivors: n...n, dimension: 200)
                #expect(exact <= ranged)
            }
        }

        @Test func distributedRejectsInputsOutsideProposition14() {
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.distributedRho(l2Sensitivity: 1, localSigma: 0.49, survivors: 2...2, dimension: 1)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.distributedRho(l2Sensitivity: 1, localSigma: 1, survivors: 0...2, dimension: 1)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.distributedRho(l2Sensitivity: 1, localSigma: 1, survivors: 2...2, dimension: 0)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.distributedRenyiBound(
                    order: 0.5, l2Sensitivity: 1, localSigma: 1, summands: 2, dimension: 1)
            }
        }

        /// Exact variances of N_Z(0, σ²) from mpmath (30 digits, sums over all of ℤ).
        @Test func discreteGaussianVarianceMatchesExactSums() throws {
            #expect(
                close(try PrivacyAccountant.discreteGaussianVariance(sigma: 0.5), 0.215012675088138486, relative: 1e-13)
            )
            #expect(
                close(try PrivacyAccountant.discreteGaussianVariance(sigma: 1), 0.999999788767728083, relative: 1e-13))
            #expect(close(try PrivacyAccountant.discreteGaussianVariance(sigma: 2), 4, relative: 1e-14))
            #expect(try PrivacyAccountant.discreteGaussianVariance(sigma: 0) == 0)
            #expect(try PrivacyAccountant.discreteGaussianVariance(sigma: 1e6) == 1e12)
            #expect(close(try PrivacyAccountant.discreteGaussianVariance(sigma: 99.5), 99.5 * 99.5, relative: 1e-13))
        }

        @Test func noiseRMSE() throws {
            #expect(
                close(
                    try PrivacyAccountant.noiseRMSE(placement: .central, sigma: 30, survivors: 1_000), 30,
                    relative: 1e-14))
            #expect(
                close(
                    try PrivacyAccountant.noiseRMSE(placement: .distributed, sigma: 3, survivors: 100), 30,
                    relative: 1e-14))
            let small = try PrivacyAccountant.noiseRMSE(placement: .distributed, sigma: 0.5, survivors: 4)
            #expect(close(small, (4 * 0.215012675088138486).squareRoot(), relative: 1e-12))
        }
    }
}

// MARK: - Conversion and composition

extension AccountantTests {
    @Suite struct Conversion {
        /// (ρ, δ) → ε. References: Steinke's `cdp_eps` (IBM/discrete-gaussian-differential-privacy, cdp2adp.py, the
        /// companion code of Canonne–Kamath–Steinke 2020) run in Python, and Google's dp_accounting 0.4 (PyPI
        /// `dp-accounting`: RdpAccountant with 400,000 orders 1 + 10^[−2, 6] composing ZCDpEvent(ρ), get_epsilon(δ)).
        /// The two agree to about 10⁻¹⁰ relative; the first column is Steinke's value.
        @Test(arguments: [
            (0.025, 1e-6, 1.014074254726128, 1.014074254799877),
            (0.1, 1e-5, 1.914238832003598, 1.9142388320684338),
            (1.0, 1e-6, 7.7662166253117215, 7.766216625856859),
            (1e-4, 1e-8, 0.06812702602361538, 0.06812702602974254),
            (10.0, 1e-6, 32.221660949097604, 32.221660949186216),
            (0.5, 1e-10, 6.839329413120849, 6.839329413643627),
            (100.0, 1e-5, 165.62190403244523, 165.6219040489431),
        ])
        func tightConversionMatchesReferenceImplementations(
            rho: Double, delta: Double, steinke: Double, dpAccounting: Double
        ) throws {
            let epsilon = try PrivacyAccountant.epsilon(rho: rho, delta: delta)
            #expect(close(epsilon, steinke, relative: 1e-8), "epsilon \(epsilon) vs \(steinke)")
            #expect(close(epsilon, dpAccounting, relative: 1e-8))
            #expect(epsilon <= max(steinke, dpAccounting) * (1 + 1e-12))  // never looser than either
        }

        /// Extreme cases against Steinke's `cdp_eps`: tiny ρ with tiny δ, and huge ρ with δ = 10⁻³⁰⁰.
        @Test func extremeConversionsMatchSteinke() throws {
            for (rho, delta, steinke) in [
                (1e-12, 1e-12, 6.8031016177028395e-06), (1e-8, 1e-100, 0.00294861135752384),
                (5000.0, 1e-300, 8714.766069978938),
            ] {
                #expect(close(try PrivacyAccountant.epsilon(rho: rho, delta: delta), steinke, relative: 1e-8))
            }
            // ρ = 10⁶: Steinke's code overflows; dp_accounting gives 1012067.0815724824 because it never tries
            // α < 1.01, while the optimum here is α ≈ 1 + √(log(1/δ)/ρ) ≈ 1.0046. Ours is tighter, yet consistent.
            let epsilon = try PrivacyAccountant.epsilon(rho: 1e6, delta: 1e-9)
            #expect(epsilon < 1012067.0815724824 && epsilon > 1e6)
            #expect(close(try PrivacyAccountant.delta(rho: 1e6, epsilon: epsilon), 1e-9, relative: 1e-6))
        }

        @Test func tightConversionNeverExceedsTheSimpleBound() throws {
            for rho in [1e-9, 1e-6, 1e-3, 0.01, 0.1, 0.5, 1, 3, 10, 100, 1e4] {
                for delta in [1e-15, 1e-10, 1e-6, 1e-3, 0.1, 0.5] {
                    let tight = try PrivacyAccountant.epsilon(rho: rho, delta: delta)
                    let simple = try PrivacyAccountant.simpleEpsilon(rho: rho, delta: delta)
                    #expect(tight <= simple * (1 + 1e-12), "rho \(rho), delta \(delta): \(tight) > \(simple)")
                    #expect(tight >= 0)
                }
            }
            #expect(
                close(try PrivacyAccountant.simpleEpsilon(rho: 0.025, delta: 1e-6), 1.2003940002383997, relative: 1e-14)
            )
        }

        /// δ(ρ, ε): Steinke's `cdp_delta(0.025, 1)` = 1.3361319064032213e-06 (dp_accounting: 1.3361319072131802e-06).
        @Test func deltaMatchesReferenceAndInvertsEpsilon() throws {
            #expect(close(try PrivacyAccountant.delta(rho: 0.025, epsilon: 1), 1.3361319064032213e-06, relative: 1e-8))
            for rho in [1e-4, 0.01, 0.3, 2, 50] {
                for delta in [1e-12, 1e-6, 1e-3] {
                    let epsilon = try PrivacyAccountant.epsilon(rho: rho, delta: delta)
                    guard epsilon > 0 else { continue }
                    let back = try PrivacyAccountant.delta(rho: rho, epsilon: epsilon)
                    #expect(
                        close(back, delta, relative: 1e-6), "rho \(rho): delta \(delta) -> eps \(epsilon) -> \(back)")
                }
            }
        }

        @Test func conversionEdgeCases() throws {
            #expect(try PrivacyAccountant.epsilon(rho: 0, delta: 1e-6) == 0)
            #expect(try PrivacyAccountant.delta(rho: 0, epsilon: 0) == 0)
            #expect(try PrivacyAccountant.epsilon(rho: .infinity, delta: 1e-6) == .infinity)
            // tiny ρ: total variation ≤ √(1 − e^−ρ) = 10^−10 < δ, so ε = 0 (as dp_accounting)
            #expect(try PrivacyAccountant.epsilon(rho: 1e-20, delta: 1e-6) == 0)
            // tiny ρ with an even tinier δ: positive and below the simple bound
            let tiny = try PrivacyAccountant.epsilon(rho: 1e-12, delta: 1e-12)
            let tinySimple = try PrivacyAccountant.simpleEpsilon(rho: 1e-12, delta: 1e-12)
            #expect(tiny > 0 && tiny <= tinySimple)
            // large ρ: finite, above ρ, below the simple bound
            let large = try PrivacyAccountant.epsilon(rho: 1e6, delta: 1e-9)
            let largeSimple = try PrivacyAccountant.simpleEpsilon(rho: 1e6, delta: 1e-9)
            #expect(large > 1e6 && large <= largeSimple)
            #expect(try PrivacyAccountant.delta(rho: 1e6, epsilon: 0) <= 1)
            for delta in [0.0, 1.0, -1, .nan] {
                #expect(throws: AccountingError.self) { try PrivacyAccountant.epsilon(rho: 1, delta: delta) }
            }
            #expect(throws: AccountingError.self) { try PrivacyAccountant.epsilon(rho: -1, delta: 0.1) }
            #expect(throws: AccountingError.self) { try PrivacyAccountant.delta(rho: 1, epsilon: -1) }
        }

        /// Steinke's `cdp_rho(1, 1e-6)` = 0.024355970359538372 and `cdp_rho(3, 1e-5)` = 0.2242491682463453.
        @Test func largestRhoMatchesReferenceAndIsConservative() throws {
            for (epsilon, delta, expected) in [(1.0, 1e-6, 0.024355970359538372), (3.0, 1e-5, 0.2242491682463453)] {
                let rho = try PrivacyAccountant.largestRho(epsilon: epsilon, delta: delta)
                #expect(close(rho, expected, relative: 1e-8))
                #expect(try PrivacyAccountant.epsilon(rho: rho, delta: delta) <= epsilon)
                #expect(try PrivacyAccountant.epsilon(rho: rho * (1 + 1e-9), delta: delta) > epsilon)
            }
            // ε = 0 still allows some ρ: at least the one whose total-variation bound is δ (1 − e^−ρ = δ²), and the
            // conversion (clipped at 0) allows a little more; its δ at ε = 0 is the target
            let zero = try PrivacyAccountant.largestRho(epsilon: 0, delta: 1e-3)
            #expect(zero >= -log1p(-1e-6))
            #expect(close(zero, 1.3591415299845882e-06, relative: 1e-8))  // Steinke's cdp_rho(0, 1e-3)
            #expect(try PrivacyAccountant.epsilon(rho: zero, delta: 1e-3) == 0)
            #expect(try PrivacyAccountant.epsilon(rho: zero * (1 + 1e-9), delta: 1e-3) > 0)
            #expect(close(try PrivacyAccountant.delta(rho: zero, epsilon: 0), 1e-3, relative: 1e-6))
            #expect(throws: AccountingError.self) { try PrivacyAccountant.largestRho(epsilon: 1, delta: 0) }
        }

        @Test func compositionAddsRho() throws {
            let one = try ZCDP(rho: 0.01)
            let composed = ZCDP.composition(of: Array(repeating: one, count: 10))
            #expect(composed.rho == 0.1)
            #expect(one + one == (try ZCDP(rho: 0.02)))
            #expect(ZCDP.composition(of: []) == .zero)
            // composing in zCDP beats adding the per-release ε
            let perRelease = try one.epsilon(delta: 1e-6 / 10)
            #expect(try composed.epsilon(delta: 1e-6) < 10 * perRelease)
            // and ε grows with the number of rounds
            #expect(try composed.epsilon(delta: 1e-6) > one.epsilon(delta: 1e-6))
            #expect(throws: AccountingError.self) { try ZCDP(rho: -0.1) }
            #expect(throws: AccountingError.self) { try ZCDP(rho: .infinity) }
            let largest = try ZCDP.largest(epsilon: 1, delta: 1e-6)
            #expect(close(largest.rho, 0.024355970359538372, relative: 1e-8))
            let decoded = try JSONDecoder().decode(ZCDP.self, from: JSONEncoder().encode(largest))
            #expect(decoded == largest)
            #expect(throws: (any Error).self) { try JSONDecoder().decode(ZCDP.self, from: Data(#"{"rho":-1}"#.utf8)) }
        }
    }
}

// MARK: - Calibration

extension AccountantTests {
    @Suite struct Calibration {
        @Test(arguments: [1, 10])
        func centralRoundTrip(rounds: Int) throws {
            let parameters = PrivacyCalibration.Parameters(
                placement: .central, l2Sensitivity: 10, dimension: 1_000, minimumSurvivors: 50, maximumSurvivors: 100,
                delta: 1e-6, rounds: rounds)
            let calibration = try PrivacyCalibration.calibrate(epsilon: 1, parameters: parameters)
            #expect(calibration.localSigma == nil)
            #expect(calibration.warnings.isEmpty)
            #expect(calibration.epsilon <= 1)
            #expect(close(calibration.epsilon, 1, relative: 1e-6))
            let rhoBudget = 0.024355970359538372  // Steinke's cdp_rho(1, 1e-6)
            #expect(close(calibration.sigma, 10 / (2 * rhoBudget / Double(rounds)).squareRoot(), relative: 1e-7))
            let back = try PrivacyCalibration.evaluate(sigma: calibration.sigma, parameters: parameters)
            #expect(close(back.epsilon, 1, relative: 1e-6))
            #expect(back.rhoPerRelease == calibration.rhoPerRelease)
            #expect(close(back.rhoTotal, Double(rounds) * back.rhoPerRelease, relative: 1e-15))
            #expect(close(try calibration.predictedRMSE(survivors: 77), calibration.sigma, relative: 1e-12))
        }

        @Test(arguments: [1, 5])
        func distributedRoundTrip(rounds: Int) throws {
            let parameters = PrivacyCalibration.Parameters(
                placement: .distributed, l2Sensitivity: 1_000, dimension: 10_000, minimumSurvivors: 80,
                maximumSurvivors: 100, delta: 1e-6, rounds: rounds)
            let calibration = try PrivacyCalibration.calibrate(epsilon: 1, parameters: parameters)
            let localSigma = try #require(calibration.localSigma)
            #expect(localSigma >= PrivacyAccountant.recommendedMinimumLocalSigma)
            #expect(calibration.warnings.isEmpty)
            #expect(close(calibration.sigma, localSigma * 80.0.squareRoot(), relative: 1e-15))
            // τ negligible: the closed form σ² = Δ²/(2ρ) and σ_local² = σ²/t_min
            let rhoPerRound = 0.024355970359538372 / Double(rounds)
            #expect(close(calibration.sigma, 1_000 / (2 * rhoPerRound).squareRoot(), relative: 1e-7))
            #expect(calibration.epsilon <= 1 && close(calibration.epsilon, 1, relative: 1e-6))
            // and back, from the total σ and from σ_local
            let back = try PrivacyCalibration.evaluate(sigma: calibration.sigma, parameters: parameters)
            #expect(close(back.epsilon, 1, relative: 1e-6))
            let backLocal = try PrivacyCalibration.evaluate(localSigma: localSigma, parameters: parameters)
            #expect(backLocal.epsilon == calibration.epsilon)
            // error: √n·σ_local for n survivors, in integer and in real units
            #expect(close(try calibration.predictedRMSE(survivors: 100), 10 * localSigma, relative: 1e-12))
            #expect(
                close(try calibration.predictedRMSE(survivors: 100, scale: 1_000), localSigma / 100, relative: 1e-12))
            let withRounding = try calibration.predictedRMSE(survivors: 100, roundingVariancePerClient: 0.25)
            #expect(close(withRounding, (100 * localSigma * localSigma + 25).squareRoot(), relative: 1e-12))
            #expect(calibration.noiseSigmaOfLargestSum == localSigma * 10)
        }

        /// Small noise shares: Proposition 14 charges τ on every coordinate and would need a larger σ_local (and warns);
        /// the Rényi curve of the sum of t_min shares is charged instead, within 0.1 % of the signal-only figure.
        @Test func distributedWithNonNegligibleTau() throws {
            let parameters = PrivacyCalibration.Parameters(
                placement: .distributed, l2Sensitivity: 3, dimension: 100, minimumSurvivors: 20, maximumSurvivors: 40,
                delta: 1e-5)
            let calibration = try PrivacyCalibration.calibrate(epsilon: 4, parameters: parameters)
            let localSigma = try #require(calibration.localSigma)
            let rhoBudget = try PrivacyAccountant.largestRho(epsilon: 4, delta: 1e-5)
            let closedForm = 3 / (2 * 20 * rhoBudget).squareRoot()
            #expect(calibration.accountant == .distributedRenyi)
            #expect(localSigma > closedForm && localSigma < closedForm * 1.001)
            #expect(calibration.curvePerRelease.penalty > 0)
            #expect(calibration.warnings.isEmpty)
            #expect(close(calibration.epsilon, 4, relative: 1e-6) && calibration.epsilon <= 4)
            let back = try PrivacyCalibration.evaluate(localSigma: localSigma, parameters: parameters)
            #expect(close(back.epsilon, 4, relative: 1e-6) && back.accountant == .distributedRenyi)
            // a little less noise no longer meets the target
            let less = try PrivacyCalibration.evaluate(localSigma: localSigma * (1 - 1e-6), parameters: parameters)
            #expect(less.epsilon > 4)
            // Proposition 14 at the same σ_local claims more than the target: its own answer is larger, below 2 (warned).
            let proposition14 = try PrivacyAccountant.distributedRho(
                l2Sensitivity: 3, localSigma: localSigma, survivors: 20...40, dimension: 100)
            #expect(try PrivacyAccountant.epsilon(rho: proposition14, delta: 1e-5) > 4)
            #expect(calibration.tau > 1e-6)
            // A budget of (4, 1e-5) takes exactly this one release.
            var budget = try PrivacyBudget(epsilon: 4, delta: 1e-5)
            try budget.charge(roundID: "r1", calibration: calibration, clip: 3, bits: 20)
            #expect(budget.penaltySpent == calibration.curvePerRelease.penalty && budget.epsilonSpent <= 4)
            #expect(!budget.canAfford(rho: 1e-9))
        }

        @Test func distributedRaisesLocalSigmaToTheProposition14Minimum() throws {
            let parameters = PrivacyCalibration.Parameters(
                placement: .distributed, l2Sensitivity: 0.1, dimension: 1, minimumSurvivors: 3, maximumSurvivors: 3,
                delta: 1e-6)
            let calibration = try PrivacyCalibration.calibrate(epsilon: 20, parameters: parameters)
            #expect(calibration.localSigma == 0.5)
            #expect(calibration.epsilon < 20)
            #expect(calibration.warnings.count == 2)
            #expect(calibration.warnings.contains { if case .localSigmaRaisedToMinimum = $0 { true } else { false } })
            #expect(throws: AccountingError.self) {
                try PrivacyCalibration.evaluate(localSigma: 0.4, parameters: parameters)
            }
        }

        @Test func calibrationRejectsBadParameters() {
            let good = PrivacyCalibration.Parameters(
                placement: .central, l2Sensitivity: 1, dimension: 1, minimumSurvivors: 2, maximumSurvivors: 3,
                delta: 1e-6)
            var bad = good
            bad.maximumSurvivors = 1
            #expect(throws: AccountingError.self) { try PrivacyCalibration.calibrate(epsilon: 1, parameters: bad) }
            bad = good
            bad.delta = 0
            #expect(throws: AccountingError.self) { try PrivacyCalibration.calibrate(epsilon: 1, parameters: bad) }
            bad = good
            bad.rounds = 0
            #expect(throws: AccountingError.self) { try PrivacyCalibration.calibrate(epsilon: 1, parameters: bad) }
            #expect(throws: AccountingError.self) { try PrivacyCalibration.calibrate(epsilon: 0, parameters: good) }
            #expect(throws: AccountingError.self) { try PrivacyCalibration.evaluate(localSigma: 3, parameters: good) }
        }
    }
}

// MARK: - Budget

extension AccountantTests {
    @Suite struct Budget {
        private func calibration(rounds: Int) throws -> PrivacyCalibration {
            try PrivacyCalibration.calibrate(
                epsilon: 1,
                parameters: .init(
                    placement: .distributed, l2Sensitivity: 500, dimension: 1_000, minimumSurvivors: 8,
                    maximumSurvivors: 10, delta: 1e-6, rounds: rounds))
        }

        /// Rounds charged by the distributed Rényi accountant compose as curves (ρ and η add): R calibrated rounds fit
        /// a budget of (ε, δ), one more is refused, the ρ left is what a zCDP round may still cost, and the ledger
        /// round-trips with its η.
        @Test func renyiChargesComposeAsCurves() throws {
            let plan = try PrivacyCalibration.calibrate(
                epsilon: 1,
                parameters: .init(
                    placement: .distributed, l2Sensitivity: 4, dimension: 10_000, minimumSurvivors: 700,
                    maximumSurvivors: 1_000, delta: 1e-6, rounds: 4))
            #expect(plan.accountant == .distributedRenyi && plan.curvePerRelease.penalty > 0)
            var budget = try PrivacyBudget(epsilon: 1, delta: 1e-6)
            for round in 0..<4 {
                try budget.charge(roundID: "r\(round)", calibration: plan, clip: 4, bits: 20)
                try budget.recordRelease(roundID: "r\(round)", survivors: 800)
            }
            #expect(budget.epsilonSpent <= 1 && close(budget.epsilonSpent, 1, relative: 1e-6))
            #expect(close(budget.penaltySpent, 4 * plan.curvePerRelease.penalty, relative: 1e-12))
            #expect(!budget.canAfford(plan.curvePerRelease))
            do {
                try budget.charge(roundID: "r4", calibration: plan, clip: 4, bits: 20)
                Issue.record("the fifth Rényi-charged round was not refused")
            } catch {
                // The message names the ε the task would reach, which is what refused it.
                guard case .budgetExceeded(_, _, _, let after, _, _, _, _, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(after > 1 && error.description.contains("bring the task to epsilon = "))
            }
            #expect(budget.entries.count == 4)
            let remaining = budget.rhoRemaining
            #expect(budget.canAfford(rho: remaining) && !budget.canAfford(rho: remaining * 1.001 + 1e-12))
            #expect(throws: AccountingError.self) { try budget.withLimit(epsilon: 0.9) }
            #expect(try budget.withLimit(epsilon: 2).canAfford(plan.curvePerRelease))
            let back = try JSONDecoder().decode(PrivacyBudget.self, from: JSONEncoder().encode(budget))
            #expect(back == budget && back.penaltySpent == budget.penaltySpent)
        }

        /// A zCDP entry encodes without `penalty` (a ledger's digest reads as before the field existed); a ledger
        /// without the field decodes as zCDP; a negative penalty does not decode.
        @Test func zcdpEntriesEncodeWithoutPenalty() throws {
            var budget = try PrivacyBudget(epsilon: 1, delta: 1e-6)
            try budget.charge(roundID: "a", placement: .central, rho: 0.01, sigma: 10, minimumSurvivors: 1, clip: 1, bits: 20)
            let text = String(decoding: try JSONEncoder().encode(budget), as: UTF8.self)
            #expect(!text.contains("penalty") && text.contains("\"rho\":0.01"))
            let back = try JSONDecoder().decode(PrivacyBudget.self, from: Data(text.utf8))
            #expect(back == budget && back.penaltySpent == 0)
            let bad = text.replacingOccurrences(of: "\"rho\":0.01", with: "\"rho\":0.01,\"penalty\":-1")
            #expect(throws: (any Error).self) { try JSONDecoder().decode(PrivacyBudget.self, from: Data(bad.utf8)) }
        }

        /// R rounds calibrated for (ε, δ) exactly fit a budget of (ε, δ); one more is refused and not recorded.
        @Test func calibratedRoundsFitAndTheNextIsRefused() throws {
            let plan = try calibration(rounds: 4)
            var budget = try PrivacyBudget(epsilon: 1, delta: 1e-6)
            for round in 0..<4 {
                try budget.charge(roundID: "r\(round)", calibration: plan, clip: 1, bits: 20)
                try budget.recordRelease(roundID: "r\(round)", survivors: 9)
            }
            #expect(budget.epsilonSpent <= 1)
            #expect(close(budget.epsilonSpent, 1, relative: 1e-6))
            #expect(!budget.canAfford(rho: plan.rhoPerRelease))
            do {
                try budget.charge(roundID: "r4", calibration: plan, clip: 1, bits: 20)
                Issue.record("the fifth round was not refused")
            } catch {
                guard
                    case .budgetExceeded(
                        let id, let requested, _, let after, let remaining, let spent, let limit, let eps, let delta)
                        = error
                else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(id == "r4" && requested == plan.rhoPerRelease && eps == 1 && delta == 1e-6)
                #expect(remaining < requested && spent <= limit && after > 1)
                let message = error.description
                #expect(message.contains("r4") && message.contains("remains") && message.contains("rho ="))
            }
            #expect(budget.entries.count == 4)
            #expect(budget.entries.allSatisfy { $0.status == .released && $0.survivors == 9 && $0.bits == 20 })
        }

        /// An operator's new budget keeps every entry and δ; a budget below what is spent is refused.
        @Test func changingTheLimitKeepsTheEntries() throws {
            let plan = try calibration(rounds: 4)
            var budget = try PrivacyBudget(epsilon: 1, delta: 1e-6)
            for round in 0..<4 {
                try budget.charge(roundID: "r\(round)", calibration: plan, clip: 1, bits: 20)
            }
            #expect(!budget.canAfford(rho: plan.rhoPerRelease))
            let raised = try budget.withLimit(epsilon: 2)
            #expect(raised.entries == budget.entries && raised.delta == budget.delta && raised.epsilonLimit == 2)
            #expect(raised.rhoSpent == budget.rhoSpent && raised.canAfford(rho: plan.rhoPerRelease))
            #expect(throws: AccountingError.self) { try budget.withLimit(epsilon: 0.5) }
            #expect(throws: AccountingError.self) { try budget.withLimit(epsilon: .nan) }
            let roundTrip = try JSONDecoder().decode(PrivacyBudget.self, from: JSONEncoder().encode(raised))
            #expect(roundTrip == raised)
        }

        @Test func chargeRefusesBeforeRecording() throws {
            var budget = try PrivacyBudget(rhoLimit: 0.1, delta: 1e-6)
            #expect(budget.epsilon == nil)
            for round in 0..<10 {
                try budget.charge(
                    roundID: "round-\(round)", placement: .central, rho: 0.01, sigma: 7.07, minimumSurvivors: 5,
                    clip: 1,
                    bits: 16)
            }
            #expect(budget.rhoSpent == 0.1)  // compensated sum: exactly the limit, accepted
            #expect(budget.rhoRemaining == 0)
            #expect(throws: AccountingError.self) {
                try budget.charge(
                    roundID: "one-too-many", placement: .central, rho: 1e-12, sigma: 1, minimumSurvivors: 5, clip: 1,
                    bits: 16)
            }
            #expect(budget.entries.count == 10)
            #expect(budget.entry(roundID: "one-too-many") == nil)
            let entry = try #require(budget.entry(roundID: "round-3"))
            #expect(entry.rho == 0.01 && entry.status == .charged && entry.survivors == nil)
            #expect(close(entry.epsilon, try PrivacyAccountant.epsilon(rho: 0.01, delta: 1e-6), relative: 0))
            #expect(throws: AccountingError.duplicateRound("round-3")) {
                try budget.charge(
                    roundID: "round-3", placement: .central, rho: 0, sigma: 1, minimumSurvivors: 5, clip: 1, bits: 16)
            }
        }

        @Test func abortedRoundsAreAccountedConservatively() throws {
            var budget = try PrivacyBudget(epsilon: 5, delta: 1e-6)
            try budget.charge(
                roundID: "central", placement: .central, rho: 0.05, sigma: 10, minimumSurvivors: 5, clip: 1, bits: 20)
            try budget.charge(
                roundID: "dist-early", placement: .distributed, rho: 0.05, sigma: 10, localSigma: 4,
                minimumSurvivors: 5,
                clip: 1, bits: 20)
            try budget.charge(
                roundID: "dist-late", placement: .distributed, rho: 0.05, sigma: 10, localSigma: 4, minimumSurvivors: 5,
                clip: 1, bits: 20)
            #expect(close(budget.rhoSpent, 0.15, relative: 1e-15))
            // central: nothing released, refunded even after inputs were sent
            #expect(try budget.recordAbort(roundID: "central", noisedInputsSent: true, reason: "timeout") == 0.05)
            // distributed before any noised masked input: refunded
            #expect(
                try budget.recordAbort(roundID: "dist-early", noisedInputsSent: false, reason: "too few keys") == 0.05)
            // distributed after noised masked inputs: charged in full
            #expect(
                try budget.recordAbort(roundID: "dist-late", noisedInputsSent: true, reason: "unmasking failed") == 0)
            #expect(close(budget.rhoSpent, 0.05, relative: 1e-15))
            #expect(budget.entry(roundID: "dist-late")?.status == .aborted)
            #expect(budget.entry(roundID: "central")?.status == .refunded)
            #expect(budget.entry(roundID: "central")?.note == "timeout")
            // entries cannot change twice, unknown rounds are reported, and no sum below t_min is released
            #expect(throws: AccountingError.self) { try budget.recordRelease(roundID: "central", survivors: 9) }
            #expect(throws: AccountingError.unknownRound("nope")) {
                try budget.recordAbort(roundID: "nope", noisedInputsSent: true, reason: "")
            }
            try budget.charge(
                roundID: "next", placement: .central, rho: 0.05, sigma: 10, minimumSurvivors: 5, clip: 1, bits: 20)
            #expect(throws: AccountingError.self) { try budget.recordRelease(roundID: "next", survivors: 4) }
            try budget.recordRelease(roundID: "next", survivors: 5)
            #expect(close(budget.rhoSpent, 0.1, relative: 1e-15))
        }

        @Test func ledgerRoundTripsThroughJSON() throws {
            var budget = try PrivacyBudget(epsilon: 1, delta: 1e-6)
            try budget.charge(roundID: "a", calibration: calibration(rounds: 3), clip: 0.5, bits: 24)
            try budget.recordRelease(roundID: "a", survivors: 10)
            try budget.charge(roundID: "b", calibration: calibration(rounds: 3), clip: 0.5, bits: 24)
            let data = try JSONEncoder().encode(budget)
            let decoded = try JSONDecoder().decode(PrivacyBudget.self, from: data)
            #expect(decoded == budget)
            #expect(decoded.entry(roundID: "a")?.placement == .distributed)
            let text = String(decoding: data, as: UTF8.self)
            #expect(text.contains("\"distributed\"") && text.contains("\"released\"") && text.contains("\"rhoLimit\""))

            // a tampered ledger does not load
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            var badDelta = object
            badDelta["delta"] = 2
            #expect(throws: (any Error).self) {
                try JSONDecoder().decode(PrivacyBudget.self, from: JSONSerialization.data(withJSONObject: badDelta))
            }
            var duplicated = object
            let entries = try #require(object["entries"] as? [Any])
            duplicated["entries"] = [entries[0], entries[0]]
            #expect(throws: (any Error).self) {
                try JSONDecoder().decode(PrivacyBudget.self, from: JSONSerialization.data(withJSONObject: duplicated))
            }
        }
    }
}

// MARK: - Modulus

extension AccountantTests {
    @Suite struct ModularBits {
        @Test func smallestBitsHoldTheSumAndTheNoiseMargin() throws {
            // M = n·B + ⌈k·s⌉ and 2^(bits−1) > M, k = 8 by default (the protocol's rule)
            let report = try PrivacyAccountant.requiredBits(summands: 10, coordinateBound: 100, noiseSigma: 10)
            #expect(report.signalBound == 1_000 && report.noiseMargin == 80 && report.bits == 12)
            #expect(close(report.wrapProbabilityPerCoordinate, 2 * exp(-32.0), relative: 1e-15))
            let checked = try PrivacyAccountant.wrapProbability(
                bits: 12, summands: 10, coordinateBound: 100, noiseSigma: 10)
            #expect(checked <= report.wrapProbabilityPerCoordinate)
            // 11 bits leave room 2^10 − 1000 = 24 = 2.4·s: a much weaker guarantee; 10 bits cannot hold it
            let tight = try PrivacyAccountant.wrapProbability(
                bits: 11, summands: 10, coordinateBound: 100, noiseSigma: 10)
            #expect(close(tight, 2 * exp(-24.0 * 24 / 200), relative: 1e-15))
            #expect(
                try PrivacyAccountant.wrapProbability(bits: 10, summands: 10, coordinateBound: 100, noiseSigma: 10) == 1
            )
        }

        @Test func boundaryCases() throws {
            // no signal, no noise: one bit (the lane 0)
            #expect(try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: 0, noiseSigma: 0).bits == 1)
            // values in [−1, 1]: two bits hold [−2, 1]
            #expect(try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: 1, noiseSigma: 0).bits == 2)
            // M = 2^10 − 1 fits in 11 bits; M = 2^10 needs 12
            #expect(try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: 1_023, noiseSigma: 0).bits == 11)
            #expect(try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: 1_024, noiseSigma: 0).bits == 12)
            // the margin is rounded up: k·s = 8·0.01 counts as 1
            let rounded = try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: 1_023, noiseSigma: 0.01)
            #expect(rounded.noiseMargin == 1 && rounded.bits == 12)
            // without noise the guarantee is deterministic
            let exact = try PrivacyAccountant.requiredBits(
                summands: 7, coordinateBound: 9, noiseSigma: 0, dimension: 1_000)
            #expect(exact.wrapProbabilityPerVector == 0)
            // 2^63 − 1 needs all 64 bits
            #expect(try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: Int.max, noiseSigma: 0).bits == 64)
        }

        @Test func refusesWhenNoModulusSuffices() {
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.requiredBits(summands: Int.max, coordinateBound: 2, noiseSigma: 0)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.requiredBits(summands: 1, coordinateBound: Int.max, noiseSigma: 1)
            }
            do {
                _ = try PrivacyAccountant.requiredBits(
                    summands: 1_000, coordinateBound: 1 << 20, noiseSigma: 100, maximumBits: 16)
                Issue.record("16 bits were accepted")
            } catch {
                #expect(
                    error
                        == .insufficientBits(
                            requiredBits: 31, maximumBits: 16, signalBound: "1048576000", noiseMargin: "800"))
                #expect(error.description.contains("lower the per-coordinate bound"))
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.requiredBits(summands: 0, coordinateBound: 1, noiseSigma: 1)
            }
            #expect(throws: AccountingError.self) {
                try PrivacyAccountant.requiredBits(
                    summands: 1, coordinateBound: 1, noiseSigma: 1, standardDeviations: 0)
            }
        }

        @Test func standardDeviationsForATargetProbability() throws {
            let k = try PrivacyAccountant.standardDeviations(forWrapProbability: 1e-9, dimension: 1_000)
            let report = try PrivacyAccountant.requiredBits(
                summands: 100, coordinateBound: 50, noiseSigma: 30, standardDeviations: k, dimension: 1_000)
            #expect(close(report.wrapProbabilityPerVector, 1e-9, relative: 1e-9))
            #expect(
                try PrivacyAccountant.wrapProbability(
                    bits: report.bits, summands: 100, coordinateBound: 50, noiseSigma: 30, dimension: 1_000) <= 1e-9)
        }

        @Test func calibrationSizesTheModulusForTheLargestSum() throws {
            let calibration = try PrivacyCalibration.calibrate(
                epsilon: 1,
                parameters: .init(
                    placement: .distributed, l2Sensitivity: 1_000, dimension: 100, minimumSurvivors: 50,
                    maximumSurvivors: 200, delta: 1e-6))
            let report = try calibration.requiredBits(coordinateBound: 1_000)
            let direct = try PrivacyAccountant.requiredBits(
                summands: 200, coordinateBound: 1_000, noiseSigma: calibration.noiseSigmaOfLargestSum, dimension: 100)
            #expect(report == direct)
            #expect(calibration.noiseSigmaOfLargestSum > calibration.sigma)
        }
    }
}
