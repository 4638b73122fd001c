import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggWire
import Testing

/// Rounds with differential-privacy noise: the release's error matches what the accountant predicts, and the
/// protocol refuses noise it cannot carry or that a client does not accept.
@Suite("Private rounds")
struct PrivacyRoundTests {
    static func configuration(_ mode: PrivacyMode) -> SimulationConfiguration {
        var configuration = SimulationConfiguration()
        configuration.clients = 40
        configuration.dimension = 2000
        configuration.privacy = mode
        configuration.epsilon = 1
        configuration.delta = 1e-6
        configuration.dropoutRate = 0.1
        configuration.workers = 2
        return configuration
    }

    // The measured RMSE of the release is the predicted one within 10 % (the estimate over 2,000 entries has a
    // relative standard error of about 1.6 %), for noise from the clients and from the coordinator.
    @Test("measured error matches the prediction", arguments: [PrivacyMode.distributed, .central])
    func errorMatchesPrediction(mode: PrivacyMode) async throws {
        let report = await (try RoundSimulator(configuration: Self.configuration(mode))).run()
        let privacy = try #require(report.privacy)
        #expect(report.abortReason == nil)
        #expect(report.verified)
        #expect(abs(privacy.epsilon - 1) < 1e-6)
        #expect(abs(privacy.rmse / privacy.predictedRMSE - 1) < 0.10, "rmse \(privacy.rmse) vs \(privacy.predictedRMSE)")
        #expect(privacy.maximumError > 0)
    }

    // Real vectors through the float encoder (clip, rotation, rounding, shift into 0...2B): the decoded release
    // is the sum of the survivors' clipped vectors plus noise, with the predicted error (noise and rounding).
    @Test("float inputs: measured error matches the prediction", arguments: [PrivacyMode.distributed, .central])
    func floatEncoderRound(mode: PrivacyMode) async throws {
        var configuration = Self.configuration(mode)
        configuration.encoder = .float
        configuration.clip = 2
        configuration.dimension = 1000
        let simulator = try RoundSimulator(configuration: configuration)
        let encoding = try #require(simulator.parameters.floatEncoding)
        #expect(encoding.encoder.encodedDimension == 1024)
        let report = await simulator.run()
        let privacy = try #require(report.privacy)
        #expect(report.abortReason == nil)
        #expect(report.verified)
        #expect(abs(privacy.rmse / privacy.predictedRMSE - 1) < 0.15, "rmse \(privacy.rmse) vs \(privacy.predictedRMSE)")
    }

    // Distributed noise is sized for the fewest survivors, so every client adds σ²/t_min and the release carries
    // at least σ² whichever t_min clients survive.
    @Test("distributed noise per client is σ²/t_min")
    func distributedNoiseShare() throws {
        let simulator = try RoundSimulator(configuration: Self.configuration(.distributed))
        let calibration = try #require(simulator.parameters.calibration)
        let local = try #require(calibration.localSigma)
        let minimumSurvivors = Double(simulator.parameters.threshold + 1)
        #expect(abs(local * local * minimumSurvivors / (calibration.sigma * calibration.sigma) - 1) < 1e-9)
        guard case let .distributed(variance) = simulator.parameters.noise else {
            Issue.record("expected distributed noise")
            return
        }
        #expect(variance.value >= local * local)
    }

    // Noise that the modulus cannot carry is refused before the round, with the number of bits needed:
    // 10 + 8·√(10 · 10,000) ≈ 2,540 needs 2^(bits−1) > 2,540, i.e. 13 bits.
    @Test("noise too large for the modulus is refused")
    func noisyOverflowRefused() {
        var parameters = RoundParameters(
            roundID: RoundID(bytes: [UInt8](repeating: 1, count: 16))!, taskName: "noisy", dimension: 4, bits: 12,
            maximumInput: 1, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: .honestButCurious,
            invitedCount: 10, nonce: [UInt8](repeating: 2, count: 32),
            noise: .distributed(localVariance: NoiseVariance(numerator: 10_000, denominator: 1)))
        #expect(throws: ParameterValidationError.noisySumMayOverflow(requiredBits: 13, bits: 12)) {
            try parameters.validate()
        }
        parameters.bits = 13
        #expect(throws: Never.self) { try parameters.validate() }
    }

    // A client that insists on adding noise itself refuses a round with less (or only central) noise.
    @Test("a client refuses rounds below its own noise floor")
    func clientNoiseFloor() throws {
        var random = SeededRandom(seed: 3)
        let identity = Ed25519.SigningKey(using: &random)
        let floor = NoiseVariance(numerator: 4, denominator: 1)
        for (noise, refused) in [
            (NoiseParameters.none, true), (.central(variance: NoiseVariance(numerator: 100, denominator: 1)), true),
            (.distributed(localVariance: NoiseVariance(numerator: 7, denominator: 2)), true),
            (.distributed(localVariance: NoiseVariance(numerator: 9, denominator: 2)), false),
        ] {
            var client = ClientStateMachine(
                configuration: ClientConfiguration(identity: identity, policy: ClientPolicy(minimumLocalNoise: floor)), input: [0, 1, 0, 1])
            let parameters = RoundParameters(
                roundID: RoundID(bytes: [UInt8](repeating: 1, count: 16))!, taskName: "noisy", dimension: 4, bits: 32,
                maximumInput: 1, graph: .complete, threshold: 3, minimumSurvivors: 4, mode: .honestButCurious,
                invitedCount: 10, nonce: [UInt8](repeating: 2, count: 32), noise: noise)
            let actions = try client.handle(
                .advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: 1)), using: &random)
            let aborted = actions.contains { action in
                if case let .send(.abort(abort)) = action { return abort.code == AbortCode.parametersRejected.rawValue }
                return false
            }
            #expect(aborted == refused, "noise \(noise)")
        }
    }

    // Central noise needs a random source: a coordinator without one refuses to start.
    @Test("central noise without a random source is a usage error")
    func centralNoiseNeedsSource() throws {
        var random = SeededRandom(seed: 4)
        var roster: [ParticipantIndex: RosterEntry] = [:]
        for index in 1...5 { roster[ParticipantIndex(index)] = RosterEntry(identity: Ed25519.SigningKey(using: &random).verifyingKey) }
        let parameters = RoundParameters(
            roundID: RoundID(bytes: [UInt8](repeating: 1, count: 16))!, taskName: "noisy", dimension: 4, bits: 32,
            maximumInput: 1, graph: .complete, threshold: 2, minimumSurvivors: 3, mode: .honestButCurious,
            invitedCount: 5, nonce: [UInt8](repeating: 2, count: 32),
            noise: .central(variance: NoiseVariance(numerator: 4, denominator: 1)))
        #expect(throws: UsageError.missingNoiseSource) {
            try CoordinatorStateMachine(configuration: CoordinatorConfiguration(parameters: parameters, roster: roster))
        }
    }
}
