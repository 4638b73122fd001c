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

/// Issue 14: a refused client saw "I/O on closed channel" or "closed before answering the join" while the daemon's
/// log knew why. The coordinator now tells an authenticated client it does not accept why (SPEC §4.9: a JoinResponse
/// refusal sent unasked right after the handshake), and each refusal reaches the caller as its own error.
@Suite("Typed refusals", .serialized)
struct TypedRefusalTests {
    static func client(_ key: Ed25519.SigningKey, port: Int, task: String = "sum") -> SecAggClient {
        ServiceHarness.client(key, port: port, task: task, connectAttempts: 1, outcomeTimeout: .seconds(5))
    }

    /// The refusal `body` ends with, or a description of what it did instead.
    static func refusal(_ body: () async throws -> Void) async -> String {
        do {
            try await body()
            return "no error"
        } catch let SecAggClientError.joinRefused(refusal, reason) {
            return "\(refusal): \(reason)"
        } catch {
            return "other error: \(error)"
        }
    }

    @Test("not enrolled, revoked, unknown task: each refusal names itself, for a join and for an outcome query",
          .timeLimit(.minutes(1)))
    func refusalsNameThemselves() async throws {
        try await ServiceHarness.withService(tasks: [ServiceHarness.task(clients: ServiceHarness.honestCount)]) { service, port, _ in
            let stranger = ServiceHarness.key("stranger")
            let notEnrolled = await Self.refusal { _ = try await Self.client(stranger, port: port).participate(input: ServiceHarness.input(0)) }
            #expect(notEnrolled == "notEnrolled: identity \(stranger.verifyingKey) is not enrolled")

            let query = await Self.refusal { _ = try await Self.client(stranger, port: port).queryOutcome(of: RoundID(bytes: [UInt8](repeating: 1, count: 16))!) }
            #expect(query.hasPrefix("notEnrolled:"), "\(query)")

            let revokedNow = try service.store.revoke(ServiceHarness.intruder.verifyingKey, actor: "test")
            #expect(revokedNow)
            let revoked = await Self.refusal {
                _ = try await Self.client(ServiceHarness.intruder, port: port).participate(input: ServiceHarness.input(0))
            }
            #expect(revoked == "revoked: identity \(ServiceHarness.intruder.verifyingKey) was revoked")

            let unknownTask = await Self.refusal {
                _ = try await Self.client(ServiceHarness.honest[0], port: port, task: "nope").participate(input: ServiceHarness.input(0))
            }
            #expect(unknownTask == "unknownTask: no task named nope")
        }
    }

    // Proves `secagg participate` prints one line naming the refusal and exits with its documented code (10 not
    // enrolled, 12 unknown task) instead of "I/O on closed channel" and 1.
    @Test("secagg participate: one line and a documented exit code per refusal", .timeLimit(.minutes(1)))
    func participateExitCodes() async throws {
        let world = try TestWorld(clients: 3)
        // Client 2 is not enrolled.
        try (world.publicKeys.prefix(2).joined(separator: "\n") + "\n")
            .write(to: world.folder.appendingPathComponent("enrolled.txt"), atomically: true, encoding: .utf8)
        try world.writeConfiguration(task: TestWorld.queueTask)
        let daemon = try await world.startDaemon()
        defer { daemon.process.terminate() }
        for (index, task, code, text) in [(2, "queue", 10, "(notEnrolled)"), (0, "nope", 12, "(unknownTask): no task named nope")] {
            let client = try world.startClient(index, task: task)
            let status = await client.waitForExit(within: .seconds(30))
            let errors = (try? String(contentsOf: client.errorFile, encoding: .utf8)) ?? ""
            #expect(status == Int32(code), "\(client.transcript())")
            #expect(errors.hasPrefix("secagg participate: refused by the coordinator \(text)"), "\(errors)")
            #expect(errors.split(separator: "\n").count == 1, "one line: \(errors)")
        }
    }

    // Proves a client the coordinator drops for being too slow learns it (SPEC §4.11: a DropNotice before the
    // close) and reports `dropped` in the share phase — its input in no sum, safe to submit again — while the others
    // complete without it. Before, it saw a closed connection.
    @Test("a client dropped for silence is told so, with its phase", .timeLimit(.minutes(1)))
    func droppedIsTold() async throws {
        var task = ServiceHarness.task(clients: ServiceHarness.honestCount)
        task.timeouts = .uniform(.seconds(4))
        try await ServiceHarness.withService(tasks: [task]) { _, port, _ in
            let outcomes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<ServiceHarness.honestCount {
                    group.addTask {
                        do {
                            let receipt = try await Self.client(ServiceHarness.honest[index], port: port)
                                .participate(input: ServiceHarness.input(index)) { phase in
                                    // Client 0 stalls past the share phase's deadline.
                                    if index == 0, phase == .shareKeys { try await Task.sleep(for: .seconds(6)) }
                                }
                            return (index, "\(receipt.outcome)")
                        } catch let SecAggClientError.dropped(phase, reason) {
                            return (index, "dropped in \(phase): \(reason)")
                        } catch {
                            return (index, "error: \(error)")
                        }
                    }
                }
                return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
            }
            #expect(outcomes[0] == "dropped in share: no message before the phase closed",
                    "\(outcomes[0] ?? "-")")
            for index in 1..<ServiceHarness.honestCount {
                #expect(outcomes[index] == "\(ClientReceipt.Outcome.completed(survivorCount: UInt32(ServiceHarness.honestCount - 1)))",
                        "client \(index): \(outcomes[index] ?? "-")")
            }
        }
    }
}
