import ArgumentParser
import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggIdentity
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire

/// `secagg bench swarm`: many simulated clients in one process against a separate `secaggd`, for load and
/// memory measurements of the coordinator (Benchmarks/tcp-round.sh). Client identities, inputs and dropouts
/// derive from the seed exactly as in `secagg simulate`; this is a benchmarking tool, not a client.
struct SwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swarm",
        abstract: "Run many seeded clients in one process against a coordinator (benchmarks only).")

    @Option(help: "Number of clients.") var clients: Int = 100
    @Option(help: "Entries per input vector.") var dimension: Int = 10_000
    @Option(help: "Arithmetic modulo 2^bits.") var bits: Int = 32
    @Option(help: "Fraction of clients that drop.") var dropout: Double = 0.1
    @Option(name: .customLong("drop-phase"), help: "Where they drop.") var dropPhase: DropPhase = .masked
    @Option(help: "Seed for identities, inputs and dropouts.") var seed: UInt64 = 1
    @Option(name: .customLong("max-input"), help: "Largest input entry (default: (2^bits - 1) / clients); must not exceed the task's max_input.")
    var maxInput: UInt64?
    @Flag(name: .customLong("print-keys"), help: "Print the clients' public keys (an enrollment file) and exit.")
    var printKeys = false
    @Option(help: "Coordinator address as HOST:PORT.") var coordinator: String = "127.0.0.1:7461"
    @Option(name: .customLong("coordinator-key"), help: "The coordinator's public key.") var coordinatorKey: String?
    @Option(help: "Task name.") var task: String = "bench"
    @Option(help: "The coordinator's results folder, to verify the released sum.") var results: String?

    func run() async throws {
        var configuration = SimulationConfiguration()
        configuration.clients = clients
        configuration.dimension = dimension
        configuration.bits = bits
        configuration.dropoutRate = dropout
        configuration.dropPhase = dropPhase
        configuration.seed = seed
        if let maxInput { configuration.maximumInput = maxInput }
        configuration.neighbors = .fixed(max(1, min(clients - 1, 2)))
        configuration.threshold = .fixed(1)
        let simulator: RoundSimulator
        do throws(SimulationConfigurationError) {
            simulator = try RoundSimulator(configuration: configuration)
        } catch {
            throw ValidationError(error.description)
        }
        let identities = (1...clients).map { index -> Ed25519.SigningKey in
            var random = SeededRandom(seed: seed, stream: "identity-\(index)")
            return Ed25519.SigningKey(using: &random)
        }
        if printKeys {
            for (offset, key) in identities.enumerated() { print("\(key.verifyingKey) client-\(offset + 1)") }
            return
        }
        guard let coordinatorKey else { throw ValidationError("--coordinator-key is required") }
        let pinned = try IdentityFile.publicKey(fromHex: coordinatorKey)
        let (host, port) = try Endpoint(parsing: coordinator, option: "--coordinator").pair
        let plan = simulator.dropPlan()
        let limits = TransportLimits(maximumMessageBytes: max(64 << 20, dimension * 8 + 4096), idleTimeout: .seconds(900))
        let start = ContinuousClock.now
        let outcomes = try await withThrowingTaskGroup(of: ParticipationReceipt?.self) { group in
            for index in 1...clients {
                let key = identities[index - 1]
                let crashPhase = plan[ParticipantIndex(index)]
                group.addTask {
                    var logger = Logger(label: "secagg.swarm")
                    logger.logLevel = .error
                    let client = SecAggClient(
                        configuration: SecAggClientConfiguration(
                            host: host, port: port, coordinatorKey: pinned, identity: key, task: task,
                            policy: ClientPolicy(minimumThreshold: 1, minimumSurvivors: 2), limits: limits,
                            connectAttempts: 30, admissionTimeout: .seconds(900)),
                        logger: logger)
                    return try? await client.participate(input: simulator.input(of: ParticipantIndex(index))) { phase in
                        if phase == crashPhase { throw CancellationError() }
                    }
                }
            }
            var receipts: [ParticipationReceipt] = []
            for try await receipt in group { if let receipt { receipts.append(receipt) } }
            return receipts
        }
        let (seconds, attoseconds) = (ContinuousClock.now - start).components
        let wall = Double(seconds) + Double(attoseconds) * 1e-18
        let completed = outcomes.filter { if case .completed = $0.outcome { return true } else { return false } }
        var object: [String: Any] = [
            "clients": clients, "dimension": dimension, "dropout": dropout, "wall_seconds": wall,
            "receipts_completed": completed.count, "peak_rss_mib": peakResidentMebibytes(),
        ]
        if let results, let roundID = completed.first?.roundID {
            object["verified"] = try verify(resultsFolder: results, roundID: roundID, simulator: simulator, identities: identities)
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private func verify(
        resultsFolder: String, roundID: RoundID, simulator: RoundSimulator, identities: [Ed25519.SigningKey]
    ) throws -> Bool {
        let file = URL(fileURLWithPath: resultsFolder).appendingPathComponent(task).appendingPathComponent("\(roundID).json")
        for _ in 0..<50 where !FileManager.default.fileExists(atPath: file.path) { Thread.sleep(forTimeInterval: 0.1) }
        let data = try Data(contentsOf: file)
        let result = try PublishedResult.decoded(data)
        guard let sum = result.residues else { return false }
        let survivors = result.survivorIdentities
        let indexByKey = Dictionary(uniqueKeysWithValues: identities.enumerated().map { ("\($0.element.verifyingKey)", $0.offset + 1) })
        let mask: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        var expected = [UInt64](repeating: 0, count: dimension)
        for identity in survivors {
            guard let index = indexByKey[identity] else { return false }
            let input = simulator.input(of: ParticipantIndex(index))
            for position in expected.indices { expected[position] = (expected[position] &+ input[position]) & mask }
        }
        return expected == sum
    }
}
