import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggMath
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire

/// `secagg simulate --transport tcp`: the same round as the in-process simulation (same seeds, inputs and
/// dropouts), but through a real coordinator service and real clients on loopback TCP with Noise, in one process.
struct LoopbackSimulation {
    let simulator: RoundSimulator

    /// Runs `simulator`'s round over the transport its configuration names: in memory, or over loopback TCP.
    ///
    /// - Throws: What setting up the loopback service and clients throws (a round that aborts is a report).
    static func run(_ simulator: RoundSimulator) async throws -> SimulationReport {
        switch simulator.configuration.transport {
        case .inprocess: return await simulator.run()
        case .tcp: return try await LoopbackSimulation(simulator: simulator).run()
        }
    }

    /// `secagg simulate`'s runner for a sweep: the configuration as `secagg simulate` would run it.
    ///
    /// - Throws: The simulator's refusal of the configuration, or what ``run(_:)`` throws.
    @Sendable static func run(configuration: SimulationConfiguration) async throws -> SimulationReport {
        try await run(RoundSimulator(configuration: configuration))
    }

    func run() async throws -> SimulationReport {
        let configuration = simulator.configuration
        let parameters = simulator.parameters
        let count = configuration.clients
        var identities: [Ed25519.SigningKey] = []
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for index in 1...count {
            var random = SeededRandom(seed: configuration.seed, stream: "identity-\(index)")
            let key = Ed25519.SigningKey(using: &random)
            identities.append(key)
            enrolled[key.verifyingKey] = "client-\(index)"
        }
        var coordinatorRandom = SeededRandom(seed: configuration.seed, stream: "coordinator-identity")
        let coordinatorKey = Ed25519.SigningKey(using: &coordinatorRandom)
        let graph: TaskConfiguration.Graph
        switch parameters.graph {
        case .complete: graph = .complete
        case let .harary(degree): graph = .harary(degree: Int(degree))
        }
        // With DP the coordinator's task calibrates the same noise as the in-process simulation (same t_min and n).
        var privacy: TaskPrivacy?
        if let calibration = parameters.calibration {
            privacy = TaskPrivacy(
                placement: calibration.parameters.placement, epsilonPerRound: configuration.epsilon,
                sigma: configuration.epsilon == nil ? configuration.sigma : nil, delta: configuration.delta,
                l2Sensitivity: calibration.parameters.l2Sensitivity, budgetEpsilon: 1e9)
        }
        let task = TaskConfiguration(
            name: "simulation", dimension: parameters.laneCount, bits: configuration.bits,
            maximumInput: parameters.maximumInput, graph: graph, threshold: parameters.threshold,
            minimumClients: count, maximumClients: count, minimumSurvivors: parameters.threshold + 1,
            mode: configuration.mode, timeouts: .uniform(.seconds(120)), gatherWindow: .seconds(600), rounds: 1,
            privacy: privacy)
        var logger = Logger(label: "secagg.simulate.coordinator")
        logger.logLevel = .warning
        let limits = TransportLimits(maximumMessageBytes: max(64 << 20, configuration.dimension * 8 + 4096), idleTimeout: .seconds(600))
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: coordinatorKey, enrolled: enrolled, tasks: [task], limits: limits,
                maximumConnections: count + 16),
            logger: logger)
        let plan = simulator.dropPlan()
        let start = ContinuousClock.now
        var inputs: [ParticipantIndex: [UInt64]] = [:]
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            let port = try await service.listeningPort()
            for index in 1...count {
                let key = identities[index - 1]
                let input: [UInt64]
                if let encoding = parameters.floatEncoding {
                    input = simulator.floatLanes(of: ParticipantIndex(index), encoding: encoding)?.values ?? []
                } else {
                    input = simulator.input(of: ParticipantIndex(index))
                }
                inputs[ParticipantIndex(index)] = input
                let crashPhase = plan[ParticipantIndex(index)]
                group.addTask {
                    var clientLogger = Logger(label: "secagg.simulate.client")
                    clientLogger.logLevel = .error
                    let client = SecAggClient(
                        configuration: SecAggClientConfiguration(
                            host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey, identity: key,
                            task: "simulation", policy: ClientPolicy(minimumThreshold: 1, minimumSurvivors: 2),
                            limits: limits, connectAttempts: 20),
                        logger: clientLogger)
                    _ = try? await client.participate(input: input) { phase in
                        if phase == crashPhase { throw CancellationError() }
                    }
                }
            }
            try await group.waitForAll()
        }
        let wall = (ContinuousClock.now - start)
        let record = await service.history(of: "simulation").last
        var report = SimulationReport(
            configuration: configuration, parameters: parameters, verified: false, abortReason: record?.abortReason,
            survivors: record?.survivors.count ?? 0, survivorsPerPhase: [], phaseSeconds: [], wallSeconds: 0,
            bytesUpPerClient: Double(record?.bytesReceived ?? 0) / Double(count),
            bytesDownPerClient: Double(record?.bytesSent ?? 0) / Double(count), droppedPerPhase: record?.droppedPerPhase ?? [:])
        let (seconds, attoseconds) = wall.components
        report.wallSeconds = Double(seconds) + Double(attoseconds) * 1e-18
        if let record {
            report.phaseSeconds = RoundPhase.allCases.compactMap { phase in record.phaseSeconds[phase].map { (phase, $0) } }
            report.survivorsPerPhase = RoundPhase.allCases.compactMap { phase in record.phaseCounts[phase].map { (phase, $0) } }
            // Map survivors back to simulated clients by identity, then compare with the plain sum of their inputs.
            let indexByIdentity = Dictionary(uniqueKeysWithValues: identities.enumerated().map {
                ("\($0.element.verifyingKey)", ParticipantIndex($0.offset + 1))
            })
            if parameters.calibration != nil, let sum = record.sum,
               let release = try? ModularVector(values: sum, bits: configuration.bits) {
                let survivors = record.survivorIdentities.compactMap { indexByIdentity[$0] }
                report.privacy = simulator.measure(release: release, survivors: survivors)
                report.verified = survivors.count == record.survivors.count
                    && (report.privacy.map(simulator.isConsistent) ?? false)
            } else if let sum = record.sum {
                var expected = [UInt64](repeating: 0, count: configuration.dimension)
                let mask: UInt64 = configuration.bits == 64 ? .max : (UInt64(1) << UInt64(configuration.bits)) - 1
                for identity in record.survivorIdentities {
                    guard let index = indexByIdentity[identity], let input = inputs[index] else { continue }
                    for position in expected.indices { expected[position] = (expected[position] &+ input[position]) & mask }
                }
                report.verified = expected == sum && record.survivorIdentities.count == record.survivors.count
            }
        }
        return report
    }
}
