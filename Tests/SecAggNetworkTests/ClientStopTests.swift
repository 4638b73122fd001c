import Foundation
import Logging
import SecAggClient
import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire
import SecAggTesting
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
        let stopped = ServiceHarness.honest[0]
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)], observers: [events]) { _, port, _ in
            let outcomes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<ServiceHarness.honestCount {
                    group.addTask {
                        let client = ServiceHarness.client(ServiceHarness.honest[index], port: port)
                        do {
                            let receipt = try await client.participate(input: ServiceHarness.input(index)) { phase in
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
            for index in 1..<ServiceHarness.honestCount {
                #expect(outcomes[index] == "\(ClientReceipt.Outcome.completed(survivorCount: UInt32(ServiceHarness.honestCount - 1)))",
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
        try world.writeConfiguration(task: TestWorld.queueTask)
        let daemon = try await world.startDaemon(arguments: ["--log-level", "debug"])
        defer { daemon.process.terminate() }
        let client = try world.startClient(0, task: "queue")
        // Joined and waiting (the daemon logs the join at debug).
        #expect(await daemon.logLine(containing: "joined", within: .seconds(20)) != nil, "\(client.transcript())")
        #expect(client.process.isRunning, "\(client.transcript())")
        kill(client.process.processIdentifier, SIGTERM)
        let status = await client.waitForExit(within: .seconds(10))
        #expect(status != nil, "secagg participate ignored SIGTERM")
        #expect(status == 143, "\(client.transcript())")
        #expect(client.transcript().contains("stopped by SIGTERM"), "\(client.transcript())")
    }
}
