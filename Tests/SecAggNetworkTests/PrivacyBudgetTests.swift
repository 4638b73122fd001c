import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggWire
import SecAggTesting
import Testing

/// A coordinator task with differential privacy: it charges its budget before each round, releases only noisy
/// sums, refuses the round that would overspend, and keeps the ledger on disk.
@Suite("Privacy budget over TCP", .serialized)
struct PrivacyBudgetTests {
    @Test("one affordable noisy round, then a refused one; the ledger is saved")
    func budgetIsEnforced() async throws {
        let clients = Fixtures.identities(8, seed: 21)
        let coordinatorKey = Fixtures.identities(1, seed: 97)[0]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("secagg-budget-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        // ε = 1 per round against a total of 1.2: the first round fits; two compose (zCDP) to ε ≈ 1.45, which does not.
        let task = TaskConfiguration(
            name: "private", dimension: 200, bits: 32, maximumInput: 1, graph: .complete, minimumClients: 8,
            maximumClients: 8, timeouts: .uniform(.seconds(20)), gatherWindow: .milliseconds(100), rounds: 2,
            privacy: TaskPrivacy(
                placement: .distributed, epsilonPerRound: 1, delta: 1e-6, l2Sensitivity: Double(200).squareRoot(),
                budgetEpsilon: 1.2))
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in clients.enumerated() { enrolled[key.verifyingKey] = "client-\(index)" }
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: coordinatorKey, enrolled: enrolled, tasks: [task],
                resultsDirectory: folder),
            logger: Logger(label: "test.coordinator"))
        let input: [UInt64] = (0..<200).map { UInt64($0 % 2) }
        var outcomes: [ClientReceipt.Outcome] = []
        try await withThrowingTaskGroup(of: [ClientReceipt.Outcome].self) { group in
            group.addTask { try await service.run(); return [] }
            let port = try await service.listeningPort()
            for round in 0..<2 {
                let receipts = try await withThrowingTaskGroup(of: ClientReceipt.Outcome.self) { cohort in
                    for key in clients {
                        cohort.addTask {
                            let client = SecAggClient(configuration: SecAggClientConfiguration(
                                host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey,
                                identity: key, task: "private"))
                            return try await client.participate(input: input).outcome
                        }
                    }
                    var all: [ClientReceipt.Outcome] = []
                    for try await outcome in cohort { all.append(outcome) }
                    return all
                }
                outcomes += receipts
                _ = round
            }
            for try await _ in group {}
        }
        #expect(outcomes.filter { $0 == .completed(survivorCount: 8) }.count == 8)
        #expect(outcomes.filter {
            if case let .aborted(code, _) = $0 { return code == AbortCode.budgetExhausted.rawValue }
            return false
        }.count == 8)

        let history = await service.history(of: "private")
        #expect(history.count == 2)
        let released = try #require(history.first?.sum)
        // The release is the exact sum (4 per entry with odd positions, 0 otherwise) plus noise: read it signed and
        // check it is noisy but within 10 standard deviations.
        let ledger = try #require(await service.privacyLedger(of: "private"))
        let entry = try #require(ledger.entries.first)
        #expect(ledger.entries.count == 1)
        #expect(entry.status == .released)
        let sigma = entry.sigma
        let signed = released.map { $0 >= 1 << 31 ? Int64($0) - (1 << 32) : Int64($0) }
        let errors = signed.enumerated().map { Double($0.element - Int64($0.offset % 2 == 1 ? 8 : 0)) }
        #expect(errors.contains { $0 != 0 })
        #expect(errors.allSatisfy { abs($0) < 10 * sigma })
        #expect(history.last?.abortReason?.code == .budgetExhausted)
        // The ledger is on disk and reloads.
        let file = folder.appendingPathComponent("private/privacy-ledger.json")
        let saved = try JSONDecoder().decode(PrivacyBudget.self, from: try Data(contentsOf: file))
        #expect(saved.entries.count == 1)
        #expect(abs(saved.epsilonSpent - 1) < 1e-6)
    }
}
