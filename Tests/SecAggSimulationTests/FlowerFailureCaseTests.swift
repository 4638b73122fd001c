import SecAggProtocol
import SecAggSimulation
import SecAggWire
import Testing

/// The three failures found in Flower's SecAgg+ (shared/peers/flower/README.md, "Weaknesses noticed") must work here.
@Suite("Flower failure cases")
struct FlowerFailureCaseTests {
    /// Flower aborts when clients drop during ShareKeys; here their absence is routine.
    @Test("clients dropping during ShareKeys", arguments: [RoundMode.honestButCurious, .active])
    func dropDuringShareKeys(mode: RoundMode) async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 20
        configuration.dimension = 50
        configuration.dropoutRate = 0.1
        configuration.dropPhase = .share
        configuration.mode = mode
        configuration.neighbors = .fixed(mode == .active ? 12 : 6)
        configuration.threshold = .fixed(mode == .active ? 7 : 3)
        let report = await (try RoundSimulator(configuration: configuration)).run()
        #expect(report.abortReason == nil)
        #expect(report.verified)
        #expect(report.survivors == 18)
    }

    /// Flower's even `num_shares` makes every client fail; here any degree works, odd or even (K = 4 in Flower is
    /// three neighbours; we also try four).
    @Test("even and odd neighbour counts", arguments: [3, 4, 5, 6])
    func neighbourCountParity(degree: Int) async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 20
        configuration.dimension = 50
        configuration.dropoutRate = 0
        configuration.neighbors = .fixed(degree)
        configuration.threshold = .fixed(2)
        let simulator = try RoundSimulator(configuration: configuration)
        #expect(simulator.parameters.graph == .harary(degree: UInt32(degree)))
        let report = await simulator.run()
        #expect(report.verified)
        #expect(report.survivors == 20)
    }

    /// Flower's guard checks the wrong quantity and wraps silently; here a sum that could exceed the modulus is
    /// refused before the round starts, by the simulator, by the parameter check and by the coordinator.
    @Test("a sum that could overflow is refused up front")
    func overflowRefused() throws {
        var configuration = SimulationConfiguration()
        configuration.clients = 1100
        configuration.bits = 32
        configuration.maximumInput = (UInt64(1) << 22)   // Flower's quantization range
        #expect(throws: SimulationConfigurationError.self) { try RoundSimulator(configuration: configuration) }

        let parameters = RoundParameters(
            roundID: RoundID(bytes: [UInt8](repeating: 1, count: 16))!, taskName: "overflow", dimension: 10, bits: 32,
            maximumInput: UInt64(1) << 22, graph: .harary(degree: 20), threshold: 11, minimumSurvivors: 12,
            mode: .honestButCurious, invitedCount: 1100, nonce: [UInt8](repeating: 2, count: 32))
        #expect(throws: ParameterValidationError.sumMayOverflow(invitedCount: 1100, maximumInput: 1 << 22, bits: 32)) {
            try parameters.validate()
        }
        // One entry less per client fits exactly: 1100 · ⌊(2^32 − 1) / 1100⌋ ≤ 2^32 − 1.
        var fitting = parameters
        fitting.maximumInput = (UInt64(1) << 32 - 1) / 1100
        try fitting.validate()
    }
}
