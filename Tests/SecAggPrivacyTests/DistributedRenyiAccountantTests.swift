import Foundation
import SecAggPrivacy
import Testing

/// The Rényi accountant for distributed noise against values computed here independently: the exact pmf of a sum of
/// n discrete Gaussians by convolution, its exact Rényi divergences and its exact (ε, δ) curve for integer shifts.
@Suite("Distributed noise: the Rényi accountant against exact sums")
struct DistributedRenyiAccountantTests {
    /// log P(X₁ + … + X_n = s), X_i iid N_Z(0, σ²), for s = i − offset: convolved in log space, so the far tails
    /// (where Rényi divergences of high order put their weight) keep their relative precision. Each summand is taken
    /// over |x| ≤ 40σ + 5 + `extra`: a divergence of order α for a shift k weighs the sum near α·k, which must lie
    /// well inside the tabulated range (else the truncated tail distorts it).
    static func sumLogPMF(sigma: Double, summands: Int, extra: Int = 0) -> (log: [Double], offset: Int) {
        let reach = Int((sigma * 40).rounded(.up)) + 5 + extra
        let raw = (-reach...reach).map { -Double($0 * $0) / (2 * sigma * sigma) }
        let top = raw.max()!
        let logZ = top + log(raw.reduce(0) { $0 + exp($1 - top) })
        let one = raw.map { $0 - logZ }
        var sum = one
        for _ in 1..<summands {
            var next = [Double](repeating: -.infinity, count: sum.count + one.count - 1)
            for k in next.indices {
                var largest = -Double.infinity
                for i in max(0, k - one.count + 1)...min(k, sum.count - 1) { largest = max(largest, sum[i] + one[k - i]) }
                var total = 0.0
                for i in max(0, k - one.count + 1)...min(k, sum.count - 1) { total += exp(sum[i] + one[k - i] - largest) }
                next[k] = largest + log(total)
            }
            sum = next
        }
        return (sum, summands * reach)
    }

    /// The pmf itself (for the (ε, δ) curve, whose terms are not in the far tails).
    static func sumPMF(sigma: Double, summands: Int) -> (pmf: [Double], offset: Int) {
        let (logs, offset) = sumLogPMF(sigma: sigma, summands: summands)
        return (logs.map(exp), offset)
    }

    /// Exact D_α(S + k ‖ S), in log space.
    static func renyi(_ logs: [Double], shift k: Int, order alpha: Double) -> Double {
        var exponents: [Double] = []
        for s in logs.indices where s - k >= 0 { exponents.append(alpha * logs[s - k] + (1 - alpha) * logs[s]) }
        let top = exponents.max()!
        return (top + log(exponents.reduce(0) { $0 + exp($1 - top) })) / (alpha - 1)
    }

    /// Exact ε at δ of the pair (S + k, S): the smallest ε with Σ_s max(0, P(s−k) − e^ε P(s)) ≤ δ.
    static func exactEpsilon(_ pmf: [Double], shift k: Int, delta: Double) -> Double {
        func hockeyStick(_ epsilon: Double) -> Double {
            var total = 0.0
            for s in 0..<(pmf.count + k) {
                let shifted = s - k >= 0 && s - k < pmf.count ? pmf[s - k] : 0
                let base = s < pmf.count ? pmf[s] : 0
                total += max(0, shifted - exp(epsilon) * base)
            }
            return total
        }
        var low = 0.0, high = 50.0
        for _ in 0..<100 {
            let middle = (low + high) / 2
            if hockeyStick(middle) > delta { low = middle } else { high = middle }
        }
        return high
    }

    @Test("E bounds the swing of the periodic factor h of the exact sum", arguments: [2, 3, 5, 8])
    func aliasingBoundsTheSwing(summands n: Int) throws {
        for sigma in [0.6, 0.8, 1.0] {
            let (pmf, offset) = Self.sumPMF(sigma: sigma, summands: n)
            // h(s) = P(s)·exp(s²/(2nσ²)) over one period.
            let h = (0..<n).map { s in pmf[s + offset] * exp(Double(s * s) / (2 * Double(n) * sigma * sigma)) }
            let swing = (h.max()! - h.min()!) / (h.max()! + h.min()!)
            let bound = try DistributedRenyiAccountant.aliasing(localSigma: sigma, summands: n)
            #expect(bound >= swing, "n=\(n) σ=\(sigma): E=\(bound) below the swing \(swing)")
            #expect(bound <= 20 * swing + 1e-12, "n=\(n) σ=\(sigma): E=\(bound) far above the swing \(swing)")
        }
        #expect(try DistributedRenyiAccountant.aliasing(localSigma: 0.5, summands: 1) == 0)
    }

    @Test("λ bounds how fast log h of the exact sum moves from one integer to the next", arguments: [2, 3, 5, 8])
    func slopeBoundsTheExactSteps(summands n: Int) throws {
        for sigma in [0.6, 0.8, 1.0] {
            guard let slope = try DistributedRenyiAccountant.logSlope(localSigma: sigma, summands: n) else { continue }
            let (logs, offset) = Self.sumLogPMF(sigma: sigma, summands: n)
            // log h(s) = log P(s) + s²/(2nσ²), over two periods around 0.
            let logH = { (s: Int) in logs[s + offset] + Double(s * s) / (2 * Double(n) * sigma * sigma) }
            var steepest = 0.0
            for s in -n...n { steepest = max(steepest, abs(logH(s + 1) - logH(s))) }
            #expect(slope >= steepest, "n=\(n) σ=\(sigma): λ=\(slope) below the exact step \(steepest)")
            #expect(steepest > 0 && slope <= 50 * steepest, "n=\(n) σ=\(sigma): λ=\(slope) far above \(steepest)")
        }
        #expect(try DistributedRenyiAccountant.logSlope(localSigma: 0.5, summands: 1) == 0)
        #expect(try DistributedRenyiAccountant.logSlope(localSigma: 0.5, summands: 9_000) == nil)
    }

    @Test("the Rényi bound is never below the exact divergence of an integer shift", arguments: [2, 3, 6])
    func renyiBoundHolds(summands n: Int) throws {
        for sigma in [0.6, 0.7, 1.0, 1.5] {
            let (logs, _) = Self.sumLogPMF(sigma: sigma, summands: n, extra: 64 * 3 / n + 10)
            for k in 1...3 {
                for alpha in [1.01, 1.5, 2, 4, 16, 64] {
                    let exact = Self.renyi(logs, shift: k, order: alpha)
                    guard let bound = try DistributedRenyiAccountant.renyiBound(
                        order: alpha, l2Sensitivity: Double(k), dimension: 1, localSigma: sigma, minimumSurvivors: n)
                    else { continue }
                    #expect(bound >= exact * (1 - 1e-9), "n=\(n) σ=\(sigma) k=\(k) α=\(alpha): \(bound) < exact \(exact)")
                }
            }
        }
    }

    @Test("ε is never below the exact ε of the worst integer shift, and within 1.25× of it once σ_local ≥ 1")
    func epsilonAgainstExactPairs() throws {
        for (n, sigma, k) in [(3, 1.0, 3), (5, 1.2, 4), (6, 1.5, 2), (4, 0.8, 3), (8, 2.0, 6)] {
            let (pmf, _) = Self.sumPMF(sigma: sigma, summands: n)
            let exact = Self.exactEpsilon(pmf, shift: k, delta: 1e-6)
            let claimed = try #require(try DistributedRenyiAccountant.epsilon(
                delta: 1e-6, l2Sensitivity: Double(k), dimension: 1, localSigma: sigma, minimumSurvivors: n))
            #expect(claimed >= exact, "n=\(n) σ=\(sigma) k=\(k): claimed \(claimed) below exact \(exact)")
            if sigma >= 1 { #expect(claimed <= 1.25 * exact, "n=\(n) σ=\(sigma) k=\(k): \(claimed) vs exact \(exact)") }
        }
    }

    @Test("where Proposition 14 charges τ on every coordinate, the Rényi bound does not")
    func tighterThanProposition14() throws {
        // The audit's worst case shape: N = 10⁴, t_min = 9,000, d = 10⁶, c = 1, σ_local = 1.5.
        let rho = try PrivacyAccountant.distributedRho(
            l2Sensitivity: 1, localSigma: 1.5, survivors: 9_000...10_000, dimension: 1_000_000)
        let proposition14 = try PrivacyAccountant.epsilon(rho: rho, delta: 1e-6)
        let tight = try #require(try DistributedRenyiAccountant.epsilon(
            delta: 1e-6, l2Sensitivity: 1, dimension: 1_000_000, localSigma: 1.5, minimumSurvivors: 9_000))
        #expect(tight <= proposition14, "tight \(tight) vs Proposition 14 \(proposition14)")
        // At σ_local = 1 (E ≈ 10⁻⁴) Proposition 14 is about a hundred times looser; the Rényi bound is not.
        let rhoAtOne = try PrivacyAccountant.distributedRho(
            l2Sensitivity: 1, localSigma: 1, survivors: 9_000...10_000, dimension: 1_000_000)
        let tightAtOne = try #require(try DistributedRenyiAccountant.epsilon(
            delta: 1e-6, l2Sensitivity: 1, dimension: 1_000_000, localSigma: 1, minimumSurvivors: 9_000))
        #expect(tightAtOne * 50 < (try PrivacyAccountant.epsilon(rho: rhoAtOne, delta: 1e-6)))
        // A discrete Gaussian of variance t_min·σ² shifted by Δ₂ = 1 alone: the tight figure is that (up to E).
        let gaussianOnly = try PrivacyAccountant.epsilon(rho: 1 / (2 * 9_000 * 2.25), delta: 1e-6)
        #expect(tight <= gaussianOnly * 1.01 + 1e-9, "tight \(tight) vs a lone Gaussian's zCDP figure \(gaussianOnly)")
        // Small σ_local at large t_min: E is far above 1/2 and the bound stands aside (Proposition 14 applies).
        #expect(try DistributedRenyiAccountant.epsilon(
            delta: 1e-6, l2Sensitivity: 1, dimension: 10, localSigma: 0.5, minimumSurvivors: 9_000) == nil)
    }

    @Test("the exact pair ε from the characteristic function matches the convolution, and the accountant stays above it")
    func exactPairFromTheCharacteristicFunction() throws {
        for (n, sigma, k) in [(3, 1.0, 3), (5, 0.8, 2), (2, 0.6, 1)] {
            let (pmf, _) = Self.sumPMF(sigma: sigma, summands: n)
            let convolved = Self.exactEpsilon(pmf, shift: k, delta: 1e-6)
            let fromPhi = try #require(try DistributedRenyiAccountant.sumShiftEpsilon(
                localSigma: sigma, summands: n, shift: k, delta: 1e-6))
            #expect(abs(fromPhi - convolved) <= 1e-6 * max(1, convolved), "n=\(n) σ=\(sigma) k=\(k): \(fromPhi) vs \(convolved)")
        }
        // A calibrated grid case (N = 1,000, t_min = 700, d = 10⁴, c = 1): never below the exhibited pair, within
        // 1.25× of it, where Proposition 14 claims several times more.
        let sigma = 0.9459
        let pair = try #require(try DistributedRenyiAccountant.sumShiftEpsilon(localSigma: sigma, summands: 700, shift: 1, delta: 1e-6))
        let renyi = try #require(try DistributedRenyiAccountant.epsilon(
            delta: 1e-6, l2Sensitivity: 1, dimension: 10_000, localSigma: sigma, minimumSurvivors: 700))
        let proposition14 = try PrivacyAccountant.epsilon(
            rho: try PrivacyAccountant.distributedRho(l2Sensitivity: 1, localSigma: sigma, survivors: 700...1_000, dimension: 10_000),
            delta: 1e-6)
        #expect(renyi >= pair && renyi <= 1.25 * pair, "Rényi \(renyi) vs pair \(pair)")
        #expect(proposition14 > 3 * pair, "Proposition 14 \(proposition14) vs pair \(pair)")
    }

    @Test("calibrated at the edge of the bound (σ_local ≈ 0.6–0.77): never below the exhibited pair, within 1.25× of it")
    func calibratedAtTheEdge() throws {
        for (clients, minimum) in [(100, 90), (1_000, 900)] {
            let calibration = try PrivacyCalibration.calibrate(
                epsilon: 1,
                parameters: .init(
                    placement: .distributed, l2Sensitivity: 1, dimension: 10, minimumSurvivors: minimum,
                    maximumSurvivors: clients, delta: 1e-6))
            #expect(calibration.accountant == .distributedRenyi)
            let local = try #require(calibration.localSigma)
            #expect(local < 0.8)
            let pair = try #require(try DistributedRenyiAccountant.sumShiftEpsilon(
                localSigma: local, summands: minimum, shift: 1, delta: 1e-6))
            #expect(calibration.epsilon >= pair && calibration.epsilon <= 1.25 * pair,
                    "N=\(clients) t_min=\(minimum): charged \(calibration.epsilon) vs pair \(pair)")
        }
    }

    @Test("a Rényi curve: zCDP when η = 0, ε grows with η, curves compose by adding ρ and η")
    func curveArithmetic() throws {
        let zcdp = try RenyiCurve(rho: 0.02)
        #expect(try zcdp.epsilon(delta: 1e-6) == (try PrivacyAccountant.epsilon(rho: 0.02, delta: 1e-6)))
        let curved = try RenyiCurve(rho: 0.02, penalty: 0.01)
        let epsilon = try curved.epsilon(delta: 1e-6)
        #expect(epsilon > (try zcdp.epsilon(delta: 1e-6)))
        // Proposition 12 at any one order is an upper bound: the minimum is below each of them.
        for alpha in [2.0, 10, 40, 100] {
            let atAlpha = curved.divergence(order: alpha) + log(1 - 1 / alpha) - (log(alpha) + log(1e-6)) / (alpha - 1)
            #expect(epsilon <= atAlpha + 1e-12)
        }
        let three = RenyiCurve.composition(of: [curved, curved, curved])
        #expect(abs(three.rho - 0.06) < 1e-15 && abs(three.penalty - 0.03) < 1e-15)
        #expect(three == curved.repeated(3) || abs(three.rho - curved.repeated(3).rho) < 1e-15)
        #expect(throws: AccountingError.self) { try RenyiCurve(rho: 0.1, penalty: -1) }
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(RenyiCurve.self, from: Data(#"{"rho":0.1,"penalty":-0.5}"#.utf8))
        }
    }
}
