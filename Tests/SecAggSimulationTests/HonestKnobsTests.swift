import Testing

import SecAggProtocol
@testable import SecAggSimulation

/// The injected dropout does not design the round; t_min sizes distributed noise and is enforced.
@Suite("Design dropout, injected dropout and t_min")
struct HonestKnobsTests {
    @Test func injectedDropoutDoesNotChangeKOrT() throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 1_000
        configuration.dropoutRate = 0.1
        let designed = try configuration.resolve()
        configuration.dropoutRate = 0.5
        let sameDesign = try configuration.resolve()
        #expect(sameDesign.neighbors == designed.neighbors && sameDesign.threshold == designed.threshold)
        // The design rate is what moves them.
        configuration.designDropoutRate = 0.5
        let tolerant = try configuration.resolve()
        #expect(tolerant.neighbors > designed.neighbors)
        configuration.designDropoutRate = 1
        #expect(throws: SimulationConfigurationError.self) { try configuration.resolve() }
    }

    private func noisy(minimumSurvivors: Int?, dropout: Double) -> SimulationConfiguration {
        var configuration = SimulationConfiguration()
        configuration.clients = 40
        configuration.dimension = 200
        configuration.harary = false
        configuration.privacy = .distributed
        configuration.epsilon = 1
        configuration.minimumSurvivors = minimumSurvivors
        configuration.dropoutRate = dropout
        configuration.dropPhase = .share
        configuration.workers = 1
        return configuration
    }

    @Test func minimumSurvivorsSizesTheNoisePerClient() throws {
        let byDefault = try noisy(minimumSurvivors: nil, dropout: 0).resolve()
        // Complete graph on 40: threshold 20, so t_min defaults to 21.
        #expect(byDefault.minimumSurvivors == byDefault.threshold + 1)
        let raised = try noisy(minimumSurvivors: 36, dropout: 0).resolve()
        #expect(raised.minimumSurvivors == 36)
        let local = try #require(raised.calibration?.localSigma)
        let total = try #require(raised.calibration?.sigma)
        // Each client adds σ²/t_min: 36 survivors carry σ².
        #expect(abs(local * local * 36 / (total * total) - 1) < 1e-9)
        // The same ε needs less noise per client when more survivors are guaranteed.
        #expect(local < (byDefault.calibration?.localSigma ?? 0))
        #expect(throws: SimulationConfigurationError.self) {
            try noisy(minimumSurvivors: byDefault.threshold, dropout: 0).resolve()
        }
        #expect(throws: SimulationConfigurationError.self) { try noisy(minimumSurvivors: 41, dropout: 0).resolve() }
    }

    @Test func roundsWithFewerSurvivorsThanTMinAbort() async throws {
        // 4 of 40 drop during ShareKeys: 36 survivors.
        let enough = await (try RoundSimulator(configuration: noisy(minimumSurvivors: 36, dropout: 0.1))).run()
        #expect(enough.abortReason == nil && enough.verified && enough.survivors == 36)
        let tooFew = await (try RoundSimulator(configuration: noisy(minimumSurvivors: 37, dropout: 0.1))).run()
        #expect(tooFew.abortReason != nil)
        #expect(!tooFew.verified)
    }
}
