import NIOConcurrencyHelpers
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggTransport
import SecAggWire
import ServiceLifecycle
import Synchronization
import SecAggTesting
import Testing

/// Rounds over real loopback TCP with Noise, in one process: the coordinator service and the client library.
@Suite("Loopback rounds", .serialized)
struct LoopbackRoundTests {
    @Test("a round of 12 clients over TCP sums exactly")
    func completeRound() async throws {
        let clients = Fixtures.identities(12, seed: 1)
        let coordinatorKey = Fixtures.identities(1, seed: 99)[0]
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
            let port = try await service.listeningPort()
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
        // The ShareKeysRequests, built by the connections' writers, are counted too: each lists the recipient's and
        // its 6 neighbours' advertisements, more bytes than all the round's other messages together.
        let advertisement = KeyAdvertisement(
            index: 1, identityKey: [UInt8](repeating: 0, count: 32), encryptionKey: [UInt8](repeating: 0, count: 32),
            maskingKey: [UInt8](repeating: 0, count: 32), signature: [UInt8](repeating: 0, count: 64))
        var writer = WireWriter.measuring()
        advertisement.encode(into: &writer)
        #expect(record.bytesSent > 12 * 7 * writer.count, "bytes sent: \(record.bytesSent)")
    }

    @Test("two tasks run rounds at the same time, and a silent client is dropped at the phase deadline")
    func concurrentTasksAndSilentClient() async throws {
        let clients = Fixtures.identities(14, seed: 2)
        let coordinatorKey = Fixtures.identities(1, seed: 98)[0]
        let tasks = [
            TaskConfiguration(
                name: "alpha", dimension: 8, bits: 32, maximumInput: 50, graph: .complete, minimumClients: 7,
                maximumClients: 7, timeouts: .uniform(.seconds(2)), gatherWindow: .milliseconds(100), rounds: 1),
            TaskConfiguration(
                name: "beta", dimension: 3, bits: 20, maximumInput: 9, graph: .complete, minimumClients: 7,
                maximumClients: 7, timeouts: .uniform(.seconds(2)), gatherWindow: .milliseconds(100), rounds: 1),
        ]
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in clients.enumerated() { enrolled[key.verifyingKey] = "client-\(index)" }
        let recorder = EventRecorder()
        let service = try CoordinatorService(
            settings: CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: coordinatorKey, enrolled: enrolled, tasks: tasks,
                observers: [recorder]),
            logger: Logger(label: "test.coordinator"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            let port = try await service.listeningPort()
            // An identity that is not enrolled is refused during the handshake and reported.
            let stranger = SecAggClient(configuration: SecAggClientConfiguration(
                host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey,
                identity: Fixtures.identities(1, seed: 77)[0], task: "alpha", connectAttempts: 1))
            _ = try? await stranger.participate(input: [UInt64](repeating: 0, count: 8))
            let participants = Task {
                await withTaskGroup(of: Void.self) { clientsGroup in
                    for (index, key) in clients.enumerated() {
                        let task = index < 7 ? "alpha" : "beta"
                        let input: [UInt64] = task == "alpha" ? Array(repeating: UInt64(index), count: 8) : [1, 2, 3]
                        // Client 0 goes silent when asked for its shares: it keeps the connection and never answers.
                        let silentPhase: RoundPhase? = index == 0 ? .shareKeys : nil
                        clientsGroup.addTask {
                            let client = SecAggClient(configuration: SecAggClientConfiguration(
                                host: "127.0.0.1", port: port, coordinatorKey: coordinatorKey.verifyingKey, identity: key,
                                task: task))
                            _ = try? await client.participate(input: input) { phase in
                                if phase == silentPhase { try await Task.sleep(for: .seconds(60)) }
                            }
                        }
                    }
                }
            }
            // The service returns once both tasks ran their single round; then the silent client is cut off.
            try await group.next()
            participants.cancel()
            await participants.value
        }
        let alpha = try #require(await service.history(of: "alpha").first)
        let beta = try #require(await service.history(of: "beta").first)
        #expect(alpha.abortReason == nil)
        #expect(alpha.survivors.count == 6)
        #expect(alpha.droppedPerPhase[.shareKeys] == 1)
        let expectedAlpha = [UInt64](repeating: 21, count: 8)  // 1 + 2 + ... + 6: the silent client 0 is out
        #expect(alpha.sum == expectedAlpha)
        #expect(beta.abortReason == nil)
        let expectedBeta: [UInt64] = [7, 14, 21]
        #expect(beta.sum == expectedBeta)

        // Observers saw each round start, its phases, the drop, the end, and the refused stranger.
        let events = recorder.events
        let starts = events.compactMap { if case let .roundStarting(task, _, _, identities) = $0 { (task, identities.count) } else { nil } }
        #expect(Set(starts.map(\.0)) == ["alpha", "beta"] && starts.allSatisfy { $0.1 == 7 })
        let drops = events.compactMap { if case let .participantDropped(task, _, identity, phase, reason) = $0 { (task, identity, phase, reason) } else { nil } }
        #expect(drops.count == 1)
        #expect(drops.first?.3 == .silent && drops.first?.3.kind == "silent", "the silent client is dropped as silent, typed")
        #expect(drops.first?.0 == "alpha" && drops.first?.1 == "\(clients[0].verifyingKey)" && drops.first?.2 == .shareKeys)
        let finished = events.compactMap { if case let .roundFinished(record) = $0 { record.task } else { nil } }
        #expect(Set(finished) == ["alpha", "beta"] && finished.count == 2)
        let phases = events.compactMap { if case let .phaseStarted(task, _, phase, _) = $0, task == "alpha" { phase } else { nil } }
        #expect(phases.first == .advertiseKeys && phases.last == .unmasking)
        #expect(events.contains { if case .authenticationFailed = $0 { true } else { false } })
    }
}
