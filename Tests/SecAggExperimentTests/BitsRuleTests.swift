import Testing

import SecAggPrivacy
import SecAggWire

/// The planner's recommended bits and round validation follow one rule (NoisySumModulus): the width `dp plan`
/// recommends is accepted, one bit less is refused.
@Suite("One bits rule")
struct BitsRuleTests {
    private func parameters(bits: Int, invited: Int, maximumInput: UInt64, noise: NoiseParameters) -> RoundParameters {
        RoundParameters(
            roundID: RoundID(bytes: [UInt8](repeating: 1, count: 16))!, taskName: "bits", dimension: 100,
            bits: UInt8(bits), maximumInput: maximumInput, graph: .complete, threshold: UInt32(invited / 2),
            minimumSurvivors: UInt32(invited / 2 + 1), mode: .honestButCurious, invitedCount: UInt32(invited),
            nonce: [UInt8](repeating: 2, count: 32), noise: noise)
    }

    @Test func ruleMatchesItsDefinition() {
        // 2^(bits−1) > M + ⌈8s⌉
        #expect(NoisySumModulus.requiredBits(signalBound: 1_000, noiseStandardDeviation: 10) == 12)
        #expect(NoisySumModulus.requiredBits(signalBound: 1_023 - 80, noiseStandardDeviation: 10) == 11)
        #expect(NoisySumModulus.requiredBits(signalBound: 1_024 - 80, noiseStandardDeviation: 10) == 12)
        #expect(NoisySumModulus.requiredBits(signalBound: 943, noiseStandardDeviation: 9.9) == 11)  // ⌈79.2⌉ = 80
        #expect(NoisySumModulus.requiredBits(signalBound: .max, noiseStandardDeviation: 1) == 65)
        #expect(NoisySumModulus.requiredBits(signalBound: 0, noiseStandardDeviation: .infinity) == 65)
    }

    @Test("the planner's bits pass validation, one less fails", arguments: [
        (NoisePlacement.distributed, 200, 50), (.distributed, 1_000, 900), (.central, 500, 300),
    ])
    func plannerAndValidationAgree(placement: NoisePlacement, clients: Int, minimumSurvivors: Int) throws {
        let bound = 1
        let calibration = try PrivacyCalibration.calibrate(
            epsilon: 1, parameters: .init(
                placement: placement, l2Sensitivity: 10, dimension: 100, minimumSurvivors: minimumSurvivors,
                maximumSurvivors: clients, delta: 1e-6))
        let recommended = try calibration.requiredBits(coordinateBound: bound).bits
        let sigma = placement == .central ? calibration.sigma : try #require(calibration.localSigma)
        // The variance as the round carries it (the same rounding up to 1/65,536 for both).
        let variance = try #require(NoiseVariance(roundingUp: sigma * sigma))
        let noise: NoiseParameters = placement == .central
            ? .central(variance: variance) : .distributed(localVariance: variance)
        // The planner sized the margin from σ² (not its rounding); check that rounding cannot matter here.
        let total = placement == .central ? variance.value : Double(clients) * variance.value
        #expect(NoisySumModulus.requiredBits(
            signalBound: UInt64(clients * bound), noiseStandardDeviation: total.squareRoot()) == recommended)
        try parameters(bits: recommended, invited: clients, maximumInput: UInt64(bound), noise: noise).validate()
        #expect(throws: ParameterValidationError.noisySumMayOverflow(requiredBits: recommended, bits: UInt8(recommended - 1))) {
            try parameters(bits: recommended - 1, invited: clients, maximumInput: UInt64(bound), noise: noise).validate()
        }
    }
}
