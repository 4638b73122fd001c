import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire
import Testing

/// Issue 14: `secagg participate` ignored SIGTERM (participants had to be killed with SIGKILL). A stopped client now
/// leaves its round with ClientAbort 0x0206 (`cancelled`), so the coordinator drops it at once, and the command exits
/// 128 + the signal's number.
@Suite("Stopping a client", .serialized)
struct ClientStopTests {
    @Test("a client cancelled in a round tells the coordinator, which drops it and completes the round without it",
          .timeLimit(.minutes(2)))
    func cancelledInRound() async throws {
        let events = EventRecorder()
        let stopped = BadInputTests.honest[0]
        try await BadInputTests.withService(tasks: [BadInputTests.task(clients: BadInputTests.honestCount)], observers: [events]) { _, port, _ in
            let outcomes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<BadInputTests.honestCount {
                    group.addTask {
                        let client = SecAggClient(
                            configuration: SecAggClientConfiguration(
                                host: "127.0.0.1", port: port, coordinatorKey: BadInputTests.coordinatorKey.verifyingKey,
                                identity: BadInputTests.honest[index], task: "sum", limits: BadInputTests.limits,
                                admissionTimeout: .seconds(30)),
                            logger: Logger(label: "test.client") { _ in SwiftLogNoOpLogHandler() })
                        do {
                            let receipt = try await client.participate(input: BadInputTests.input(index)) { phase in
                                // The caller stops client 0 as the ShareKeys request arrives.
                                if index == 0, phase == .shareKeys { withUnsafeCurrentTask { $0?.cancel() } }
                            }
                            return (index, "\(receipt.outcome)")
                        } catch is CancellationError {
                            return (index, "cancelled")
                        }
                    }
                }
                return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes[0] == "cancelled")
            for index in 1..<BadInputTests.honestCount {
                #expect(outcomes[index] == "\(ClientReceipt.Outcome.completed(survivorCount: UInt32(BadInputTests.honestCount - 1)))",
                        "client \(index): \(outcomes[index] ?? "-")")
            }
            let drops = events.events.compactMap { event -> DropReason? in
                guard case let .participantDropped(_, _, identity, _, reason) = event, identity == "\(stopped.verifyingKey)" else {
                    return nil
                }
                return reason
            }
            #expect(drops == [.aborted(code: AbortCode.cancelled.rawValue, reason: "the client was stopped")], "\(drops)")
        }
    }

    @Test("secagg participate exits 143 on SIGTERM while it waits for a round", .timeLimit(.minutes(1)))
    func sigtermWhileQueued() async throws {
        let world = try TestWorld(clients: 3)
        try world.writeConfiguration(task: """
              - name: queue
                dimension: 8
                max_input: 100
                graph: complete
                min_clients: 3
                max_clients: 3
            """)
        let daemon = try world.startDaemon()
        defer { daemon.process.terminate() }
        let client = try world.startClient(0, task: "queue")
        // Joined and waiting: the daemon logs nothing at info for a join, so give it a moment to connect.
        try await Task.sleep(for: .seconds(2))
        #expect(client.process.isRunning, "\(client.transcript())")
        kill(client.process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while client.process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!client.process.isRunning, "secagg participate ignored SIGTERM")
        if client.process.isRunning { kill(client.process.processIdentifier, SIGKILL) }
        client.process.waitUntilExit()
        #expect(client.process.terminationStatus == 143, "\(client.transcript())")
        #expect(client.transcript().contains("stopped by SIGTERM"), "\(client.transcript())")
    }
}
