import SecAggProtocol
import SecAggSimulation
import SecAggWire
import Testing

/// Property tests: many random rounds through the real state machines must release exactly the plain sum of the
/// survivors' inputs, or abort with a reason that the dropouts explain. Never a wrong sum.
@Suite("Random rounds")
struct RandomRoundTests {
    /// Draws a random but valid configuration from `seed`.
    static func configuration(seed: UInt64) -> SimulationConfiguration {
        var random = SeededRandom(seed: seed, stream: "property-configuration")
        var configuration = SimulationConfiguration()
        configuration.seed = seed
        configuration.clients = 3 + Int(random.uniform(below: 58))          // 3...60
        configuration.dimension = 1 + Int(random.uniform(below: 40))
        let minimumBits = 64 - UInt64(configuration.clients).leadingZeroBitCount + 1
        configuration.bits = minimumBits + Int(random.uniform(below: UInt64(65 - minimumBits)))
        configuration.harary = random.uniform(below: 2) == 0
        configuration.mode = random.uniform(below: 3) == 0 ? .active : .honestButCurious
        let phases: [DropPhase] = configuration.mode == .active
            ? DropPhase.allCases : DropPhase.allCases.filter { $0 != .consistency }
        configuration.dropPhase = phases[Int(random.uniform(below: UInt64(phases.count)))]
        configuration.dropoutRate = Double(random.uniform(below: 50)) / 100
        if configuration.harary, configuration.clients > 6 {
            let degree = 2 + Int(random.uniform(below: UInt64(configuration.clients - 4)))
            configuration.neighbors = .fixed(degree)
            let floor = configuration.mode == .active ? (degree + degree % 2) / 2 + 1 : 1
            configuration.threshold = .fixed(floor + Int(random.uniform(below: UInt64(degree - floor + 1))))
        }
        configuration.workers = 1
        return configuration
    }

    @Test("random rounds sum exactly or abort for a dropout reason", arguments: 0..<60)
    func randomRound(seed: Int) async throws {
        let configuration = Self.configuration(seed: UInt64(seed) + 1000)
        let simulator = try RoundSimulator(configuration: configuration)
        let report = await simulator.run()
        let dropped = simulator.dropPlan().count
        if let reason = report.abortReason {
            // Only missing participants may abort a round of honest parties.
            #expect(dropped > 0 || reason.code == .tooFewNeighbours, "aborted without dropouts: \(reason)")
            let dropoutCodes: Set<AbortCode> = [
                .tooFewAdvertised, .tooFewShared, .tooFewMaskedInputs, .tooFewConsistencySignatures,
                .tooFewUnmaskResponses, .reconstructionFailed, .tooFewNeighbours, .consistencyCheckFailed,
            ]
            #expect(dropoutCodes.contains(reason.code), "unexpected abort: \(reason)")
            #expect(!report.verified)
        } else {
            #expect(report.verified, "wrong sum for \(configuration)")
            #expect(report.survivors >= simulator.parameters.threshold)
        }
        // With a complete graph, every survivor's secrets have n − drops − 1 holders: enough means completion.
        if case .complete = simulator.parameters.graph,
           configuration.clients - dropped - 1 >= simulator.parameters.threshold {
            #expect(report.abortReason == nil, "complete graph with enough survivors aborted: \(String(describing: report.abortReason))")
        }
    }

    @Test("no dropouts: every configuration completes", arguments: 0..<15)
    func noDropouts(seed: Int) async throws {
        var configuration = Self.configuration(seed: UInt64(seed) + 5000)
        configuration.dropoutRate = 0
        let report = await (try RoundSimulator(configuration: configuration)).run()
        #expect(report.abortReason == nil)
        #expect(report.verified)
        #expect(report.survivors == configuration.clients)
    }
}
