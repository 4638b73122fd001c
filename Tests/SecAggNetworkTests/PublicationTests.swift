import Foundation
import Logging
import NIOConcurrencyHelpers
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// Issue 13, finding 3: clients learned "completed" 3–6 s before `round_finished` was audited and the result file
/// written, and a crash in that gap left holes a restart never repaired. A round's record is now published (store,
/// result file, ledger export, audit record) before any client hears its outcome, and a restart publishes whatever
/// a crash left unpublished, auditing it as recovered.
@Suite("Publishing a round's record", .serialized)
struct PublicationTests {
    /// An observer that is slow to store `round_finished` (a slow disk), noting when it finished storing it.
    final class SlowFinish: CoordinatorObserver {
        private let stored = NIOLockedValueBox<ContinuousClock.Instant?>(nil)

        func observe(_ event: CoordinatorEvent) {
            guard case .roundFinished = event else { return }
            Thread.sleep(forTimeInterval: 0.4)
            stored.withLockedValue { $0 = .now }
        }

        var storedAt: ContinuousClock.Instant? { stored.withLockedValue { $0 } }
    }

    @Test("no client hears its round's outcome before the round's record and result file are stored")
    func recordBeforeOutcome() async throws {
        let folder = try TestFiles.folder()
        let slow = SlowFinish()
        var enrolled: [Ed25519.VerifyingKey: String] = [:]
        for (index, key) in ServiceHarness.honest.enumerated() { enrolled[key.verifyingKey] = "honest-\(index)" }
        var settings = CoordinatorSettings(
            host: "127.0.0.1", port: 0, identity: ServiceHarness.coordinatorKey, enrolled: enrolled,
            tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], limits: ServiceHarness.limits,
            resultsDirectory: folder.appendingPathComponent("results"), observers: [slow])
        settings.storePath = folder.appendingPathComponent("store.sqlite").path
        let service = try CoordinatorService(settings: settings, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            let port = try await service.listeningPort()
            let receipts = try await withThrowingTaskGroup(of: (ParticipationReceipt, ContinuousClock.Instant).self) { clients in
                for index in 0..<ServiceHarness.honestCount {
                    clients.addTask {
                        let client = ServiceHarness.client(ServiceHarness.honest[index], port: port)
                        let receipt = try await client.participate(input: ServiceHarness.input(index))
                        return (receipt, .now)
                    }
                }
                return try await clients.reduce(into: []) { $0.append($1) }
            }
            let storedAt = try #require(slow.storedAt, "round_finished must be stored before any client hears the outcome")
            for (receipt, heardAt) in receipts {
                #expect(receipt.outcome == .completed(survivorCount: UInt32(ServiceHarness.honestCount)))
                #expect(heardAt > storedAt, "a client heard the outcome before the record was stored")
            }
            let roundID = try #require(receipts.first?.0.roundID)
            let file = folder.appendingPathComponent("results/sum/\(roundID).json")
            #expect(FileManager.default.fileExists(atPath: file.path), "the result file must exist when clients hear")
            #expect(try service.store.unpublishedRounds().isEmpty)
            group.cancelAll()
        }
    }

    @Test("a restart publishes what a crash left unpublished, once: result files, ledger, audit records marked recovered")
    func restartPublishes() throws {
        let folder = try TestFiles.folder()
        let storePath = folder.appendingPathComponent("store.sqlite").path
        let identities = ServiceHarness.honest.prefix(4).map { "\($0.verifyingKey)" }
        let released = Fixtures.roundID(1), interrupted = Fixtures.roundID(2)
        do {
            // The last run: one round released (the store committed it) and then the process died before the
            // result file and the audit record; another round was in its masked phase.
            let store = try CoordinatorStore(path: storePath)
            try store.recordRoundStarting(task: "sum", parameters: Fixtures.parameters(released, task: "sum"), identities: identities)
            try store.commitRelease(
                task: "sum", roundID: released, sum: [5, 6, 7], survivorIdentities: Array(identities.prefix(3)),
                noise: "none", ledger: nil)
            try store.recordRoundStarting(task: "sum", parameters: Fixtures.parameters(interrupted, task: "sum"), identities: identities)
            try store.recordPhase(task: "sum", roundID: interrupted, phase: .maskedInputCollection, participants: 4)
        }
        func start() throws -> (CoordinatorService, EventRecorder) {
            let events = EventRecorder()
            var enrolled: [Ed25519.VerifyingKey: String] = [:]
            for key in ServiceHarness.honest { enrolled[key.verifyingKey] = "honest" }
            var settings = CoordinatorSettings(
                host: "127.0.0.1", port: 0, identity: ServiceHarness.coordinatorKey, enrolled: enrolled,
                tasks: [ServiceHarness.task(clients: 4)], resultsDirectory: folder.appendingPathComponent("results"),
                observers: [events])
            settings.storePath = storePath
            return (try CoordinatorService(settings: settings, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }), events)
        }
        var finished: [RoundRecord] = []
        do {
            let (service, events) = try start()
            for case let .roundFinished(record) in events.events { finished.append(record) }
            #expect(try service.store.unpublishedRounds().isEmpty)
        }
        #expect(finished.count == 2)
        #expect(finished.allSatisfy { $0.recovered })
        let completed = try #require(finished.first { $0.roundID == released })
        #expect(completed.sum == [5, 6, 7] && completed.abortReason == nil)
        #expect(completed.survivors == [1, 2, 3])
        let aborted = try #require(finished.first { $0.roundID == interrupted })
        #expect(aborted.abortReason?.detail == "coordinator restarted" && aborted.sum == nil)
        for id in [released, interrupted] {
            let file = folder.appendingPathComponent("results/sum/\(id).json")
            #expect(FileManager.default.fileExists(atPath: file.path), "missing result file of \(id)")
        }
        // Published once: the next start has nothing left to publish.
        let (_, events) = try start()
        #expect(!events.events.contains { if case .roundFinished = $0 { return true } else { return false } })
    }
}
