import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import ServiceLifecycle
import Testing

/// Rounds over real loopback TCP with Noise, in one process: the coordinator service and the client library.
@Suite("Loopback rounds", .serialized)
struct LoopbackRoundTests {
    static func identities(_ count: Int, seed: UInt64) -> [Ed25519.SigningKey] {
        (0..<count).map { index in
            var random = SeededRandom(seed: seed, stream: "network-identity-\(index)")
            return Ed25519.SigningKey(using: &random)
        }
    }

    @Test("a round of 12 clients over TCP sums exactly")
    func completeRound() async throws {
        let clients = Self.identities(12, seed: 1)
        let coordinatorKey = Self.identities(1, seed: 99)[0]
        let task = TaskConfiguration(
            name: "counts", dimension: 64, bits: 32, maximumInput: 1000, graph: .harary(degree: 6), threshold: 4,
            minimumClients: 12, maximumClients: 12, timeouts: .uniform(.seconds(20)), gatherWindow: .milliseconds(100),
            rounds: 1)
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in clients.enumerated() { enrolled[key.verifyingKey] = "client-\(index)" }
        let service = try CoordinatorService(
            settings: CoordinatorSettings(host: "127.0.0.1", port: 0, identity: coordinatorKey, enrolled: enrolled, tasks: [task]),
            logger: Logger(label: "test.coordinator"))
        let inputs: [[UInt64]] = (0..<12).map { client in (0..<64).map { UInt64(($0 * 7 + client * 13) % 1001) } }

        try await withThrowingTaskGroup(of: ParticipationReceipt?.self) { group in
            group.addTask { try await service.run(); return nil }
            let port = await service.listeningPort()
            for (index, key) in clients.enumerated() {
                group.addTask {
                    let client = SecAggClient(configuration: SecAggClientConfiguration(
                        host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey, identity: key,
                        task: "counts"))
                    return try await client.participate(input: inputs[index])
                }
            }
            var receipts: [ParticipationReceipt] = []
            for try await receipt in group {
                if let receipt { receipts.append(receipt) }
            }
            #expect(receipts.count == 12)
            for receipt in receipts {
                #expect(receipt.outcome == .completed(survivorCount: 12))
            }
        }
        let history = await service.history(of: "counts")
        let record = try #require(history.first)
        let expected = (0..<64).map { position in inputs.reduce(UInt64(0)) { $0 + $1[position] } }
        #expect(record.abortReason == nil)
        #expect(record.sum == expected)
    }
}
