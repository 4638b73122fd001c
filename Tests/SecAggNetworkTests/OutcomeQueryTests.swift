import Foundation
import Logging
@testable import SecAggClient
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire
import SecAggTesting
import Testing

/// Issue 13, finding 7: in 2 of 91 kills the result was committed but every client exited "connection lost", and a
/// client that retried would have been counted twice. A client that loses its connection after sending its masked
/// input now asks the coordinator how the round ended for its input (SPEC §4.10) and gets a signed receipt.
@Suite("Outcome queries and signed receipts", .serialized)
struct OutcomeQueryTests {
    typealias Base = ServiceHarness

    static func client(_ index: Int, port: Int, outcomeTimeout: Duration = .seconds(20)) -> SecAggClient {
        Base.client(Base.honest[index], port: port, outcomeTimeout: outcomeTimeout)
    }

    // A client whose connection the coordinator closes in the unmask phase (its masked input already counted) learns,
    // by a signed receipt, that its input is in the released sum: it reports the round completed, not lost.
    @Test("a client cut off after its masked input learns, signed, that its input is in the sum")
    func cutOffAfterMaskedInput() async throws {
        let recorder = EventRecorder()
        try await Base.withService(tasks: [Base.task(clients: Base.honestCount)], observers: [recorder]) { service, port, _ in
            let cut = Base.honest[0].verifyingKey
            let receipts = try await withThrowingTaskGroup(of: ParticipationReceipt.self) { group in
                for index in 0..<Base.honestCount {
                    group.addTask {
                        try await Self.client(index, port: port).participate(input: Base.input(index)) { phase in
                            guard index == 0, phase == .unmasking else { return }
                            // The coordinator drops the connection (revoking closes it) and the key is enrolled again
                            // at once, so the client can ask on a new connection.
                            _ = await service.handleAdmin(.revoke(publicKey: cut.rawRepresentation), actor: "test")
                            _ = await service.handleAdmin(.enroll(publicKey: cut.rawRepresentation, label: "again"), actor: "test")
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(receipts.count == Base.honestCount)
            for receipt in receipts {
                #expect(receipt.outcome == .completed(survivorCount: UInt32(Base.honestCount)), "\(receipt)")
            }
            let record = try #require(await service.filedRounds(of: "sum").first)
            #expect(record.survivorIdentities.contains("\(cut)"), "the cut-off client's input was counted")
            #expect(record.droppedPerPhase[.unmasking] == 1, "it was dropped from the unmask phase")
            // Revoking a client in a round tells the round at once (it used to wait for the phase's deadline, 8 s).
            let drops = recorder.events.compactMap { event -> DropReason? in
                if case let .participantDropped(_, _, _, _, reason) = event { reason } else { nil }
            }
            #expect(drops == [.disconnected])
            #expect(record.sum == Base.expectedHonestSum)

            // Asked directly: included, with the release's audit digest, signed by the coordinator's key.
            let receipt = try await Self.client(0, port: port).queryOutcome(of: record.roundID)
            #expect(receipt.status == .included && receipt.survivorCount == UInt32(Base.honestCount))
            #expect(receipt.sumDigest == AuditLog.sumDigest(try #require(record.sum)))
            // Another round id: unknown (signed all the same).
            let other = try #require(RoundID(bytes: [UInt8](repeating: 0xEE, count: 16)))
            #expect(try await Self.client(1, port: port).queryOutcome(of: other).status == .unknown)
        }
    }

    /// How a scripted coordinator falsifies its receipt.
    enum Forgery: String, CaseIterable, Sendable {
        /// Signed by a key that is not the pinned coordinator's.
        case otherKey
        /// Signed as `excluded`, sent as `included`.
        case changedStatus
        /// Signed for another client.
        case otherClient
        /// About another round than the one asked.
        case otherRound
    }

    // A coordinator (scripted here) that falsifies its receipt is caught by the client, which reports a violation
    // rather than an outcome.
    @Test("a forged, altered, misaddressed or off-round receipt is refused as a coordinator violation", arguments: Forgery.allCases)
    func forgedReceipt(_ forgery: Forgery) async throws {
        let listener = try await SecureTransport.listen(host: "127.0.0.1", port: 0, limits: Base.limits)
        let port = try #require(listener.channel.localAddress?.port)
        let asked = try #require(RoundID(bytes: [UInt8](repeating: 0x42, count: 16)))
        let server = Task {
            try? await listener.executeThenClose { inbound in
                for try await channel in inbound {
                    _ = try? await SecureTransport.serve(
                        channel, identity: Base.coordinatorKey, limits: Base.limits, authorize: { _ in nil }
                    ) { session, receiver in
                        guard let bytes = try await receiver.receive(within: .seconds(5)) else { return }
                        let query = try OutcomeQuery(decoding: bytes)
                        var receipt = OutcomeReceipt(
                            roundID: forgery == .otherRound ? try #require(RoundID(bytes: [UInt8](repeating: 1, count: 16))) : query.roundID,
                            status: forgery == .changedStatus ? .excluded : .included, survivorCount: 5,
                            sumDigest: [UInt8](repeating: 9, count: 32))
                        let signer = forgery == .otherKey ? Base.honest[7] : Base.coordinatorKey
                        let client = forgery == .otherClient ? Base.honest[1].verifyingKey : session.peer
                        receipt.signature = signer.signature(for: receipt.signedContent(client: client.rawRepresentation)).rawRepresentation
                        if forgery == .changedStatus { receipt.status = .included }
                        try await session.send(receipt.encoded)
                    }
                }
            }
        }
        defer { server.cancel() }
        let outcome = await outcomeOf { try await Self.client(0, port: port).queryOutcome(of: asked) }
        guard case let .failure(error) = outcome, case let .coordinatorViolation(reason)? = error as? SecAggClientError else {
            Issue.record("a \(forgery) receipt was accepted: \(outcome)")
            return
        }
        #expect(reason.contains(forgery == .otherRound ? "not \(asked)" : "signature"), "\(reason)")
        try? await listener.channel.close()
    }

    // The coordinator's answers from its store, for each state a round can be in.
    @Test("the receipt says included, excluded, aborted, pending or unknown, for the asking identity only, signed")
    func receiptsFromTheStore() throws {
        let settings = CoordinatorSettings(
            host: "127.0.0.1", port: 0, identity: Base.coordinatorKey, enrolled: [:], tasks: [Base.task(clients: 4)])
        let service = try CoordinatorService(settings: settings, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let identities = Base.honest.prefix(4).map { "\($0.verifyingKey)" }
        func round(_ seed: UInt8) throws -> RoundID {
            let id = try #require(RoundID(bytes: [UInt8](repeating: seed, count: 16)))
            try service.store.recordRoundStarting(task: "sum", parameters: Fixtures.parameters(id, task: "sum"), identities: identities)
            return id
        }
        let released = try round(1)
        try service.store.commitRelease(
            task: "sum", roundID: released, sum: [5, 6, 7], survivorIdentities: Array(identities.prefix(3)), noise: "none",
            ledger: nil)
        let aborted = try round(2)
        try service.store.commitFinish(RoundSummary(task: "sum", roundID: "\(aborted)", abortCode: 0x0103, abortReason: "few"), ledger: nil)
        let running = try round(3)

        func receipt(_ id: RoundID, _ client: Int) throws -> OutcomeReceipt {
            let key = Base.honest[client].verifyingKey
            let receipt = try service.outcomeReceipt(for: id, client: key)
            let signature = try Ed25519.Signature(rawRepresentation: receipt.signature)
            #expect(Base.coordinatorKey.verifyingKey.isValidSignature(signature, for: receipt.signedContent(client: key.rawRepresentation)))
            #expect(!Base.coordinatorKey.verifyingKey.isValidSignature(
                signature, for: receipt.signedContent(client: Base.honest[(client + 1) % 8].verifyingKey.rawRepresentation)),
                "a receipt is bound to the client it answers")
            return try OutcomeReceipt(decoding: receipt.encoded)
        }
        let included = try receipt(released, 0)
        #expect(included.status == .included && included.survivorCount == 3 && included.sumDigest == AuditLog.sumDigest([5, 6, 7]))
        let excluded = try receipt(released, 3)
        #expect(excluded.status == .excluded && excluded.survivorCount == 3)
        #expect(try receipt(aborted, 0).status == .aborted && (try receipt(aborted, 0).abortCode) == 0x0103)
        #expect(try receipt(running, 1).status == .pending)
        #expect(try receipt(released, 5).status == .unknown, "a client not invited to the round learns nothing")
    }
}
