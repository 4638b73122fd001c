import SecAggTesting
import Testing
import SecAggProtocol
import SecAggWire

// Undisturbed rounds, plain dropouts and clean aborts, through the fixture. They pin the exact sum the negative tests compare
// against, and show that the fixture itself drives rounds correctly.
@Suite("Round outcomes")
struct RoundHappyPathTests {
    // A round with everyone present releases exactly the sum of all inputs, in both modes.
    @Test(arguments: [RoundMode.honestButCurious, .active])
    func everyoneSurvives(mode: RoundMode) throws {
        var fixture = try RoundFixture(threshold: 3, mode: mode)
        let result = try #require(try fixture.finish())
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
        #expect(result.phaseCounts[.advertiseKeys] == 5)
        #expect(result.phaseCounts[.unmasking] == 5)
        for index in fixture.indices {
            #expect(fixture.clients[index]?.receipt?.outcome == .completed(survivorCount: 5))
            #expect(fixture.clients[index]?.phase == nil)
        }
    }

    // Two fixtures with the same arguments produce the same round, byte for byte (what the negative tests rely on).
    @Test func fixtureIsDeterministic() throws {
        var first = try RoundFixture(mode: .active)
        var second = try RoundFixture(mode: .active)
        let a = try first.finish()
        let b = try second.finish()
        #expect(a == b)
        #expect(first.sent == second.sent)
        #expect(first.received == second.received)
        var otherSeed = try RoundFixture(mode: .active, seed: 2)
        try otherSeed.finish()
        #expect(otherSeed.sent[1] != first.sent[1])
    }

    // A SecAgg+ round on a Harary graph (each client talks to 4 of 7 others) also releases the exact sum.
    @Test func hararyGraph() throws {
        var fixture = try RoundFixture(clients: 8, threshold: 3, graph: .harary(degree: 4), dimension: 20, bits: 24)
        try fixture.finish()
        fixture.expectExactSum(survivors: Array(1...8))
        // Each client shared with exactly its 4 neighbours.
        for index in fixture.indices {
            guard case let .shareKeys(shares)? = fixture.sent(by: index, type: 0x42).first else {
                Issue.record("client \(index) sent no ShareKeys"); continue
            }
            #expect(shares.shares.count == 4)
        }
    }

    // 64-bit lanes (bits > 32) work end to end, with inputs up to the largest safe maximum.
    @Test func wideLanes() throws {
        var fixture = try RoundFixture(dimension: 4, bits: 64)
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // A client that vanishes in any phase is handled: the sum is exactly that of the clients whose masked input arrived.
    @Test(arguments: [RoundPhase.advertiseKeys, .shareKeys, .maskedInputCollection, .consistencyCheck, .unmasking])
    func dropoutInPhase(phase: RoundPhase) throws {
        let mode: RoundMode = phase == .consistencyCheck ? .active : .honestButCurious
        var fixture = try RoundFixture(clients: 6, threshold: 3, mode: mode)
        try fixture.run(to: phase)
        try fixture.disconnect(4)
        try fixture.finish()
        // Clients that left before their masked input was in are not in the sum; later leavers still are.
        let survivors: [ParticipantIndex] = phase == .consistencyCheck || phase == .unmasking ? [1, 2, 3, 4, 5, 6] : [1, 2, 3, 5, 6]
        fixture.expectExactSum(survivors: survivors)
    }

    // The driver owns time: handleTimeout does nothing before the phase deadline and closes the phase at it,
    // dropping whoever stayed silent.
    @Test func timeoutClosesThePhase() throws {
        var fixture = try RoundFixture(clients: 6, threshold: 3)
        try fixture.start()
        let deadline = try #require(fixture.coordinator.nextDeadline)
        #expect(fixture.coordinator.progress?.deadline == deadline)
        try fixture.deliverToClients()
        fixture.toCoordinator.removeAll { $0.sender == 6 }
        fixture.offline.insert(6)
        try fixture.deliverToCoordinator()
        let progress = try #require(fixture.coordinator.progress)
        #expect(progress.received == 5)
        #expect(progress.expected == 6)
        #expect(!progress.isComplete)
        #expect(progress.canAdvance)
        #expect(fixture.coordinator.handleTimeout(now: ProtocolInstant(nanoseconds: deadline.nanoseconds - 1)).isEmpty)
        #expect(fixture.coordinator.phase == .advertiseKeys)
        try fixture.route(fixture.coordinator.handleTimeout(now: deadline))
        #expect(fixture.coordinator.phase == .shareKeys)
        let dropped = fixture.coordinatorActions.contains { action in
            if case let .participantDropped(6, phase, reason) = action { return phase == .advertiseKeys && reason == .silent }
            return false
        }
        #expect(dropped)
        try fixture.finish()
        fixture.expectExactSum(survivors: [1, 2, 3, 4, 5])
    }

    // A round that loses too many clients aborts with the phase's code instead of releasing a sum.
    @Test func tooFewSurvivorsAborts() throws {
        var fixture = try RoundFixture(clients: 5, threshold: 3)
        try fixture.run(to: .maskedInputCollection)
        try fixture.disconnect(1)
        try fixture.disconnect(2)
        try fixture.disconnect(3)
        try fixture.finish()
        #expect(fixture.coordinator.result == nil)
        #expect(fixture.coordinator.abortReason?.code == .tooFewMaskedInputs)
        for index: ParticipantIndex in [4, 5] {
            guard case let .aborted(code, _)? = fixture.clients[index]?.receipt?.outcome else {
                Issue.record("client \(index) has no abort receipt"); continue
            }
            #expect(code == AbortCode.tooFewMaskedInputs.rawValue)
        }
    }

    // When too few clients share keys, every client still connected is told the round aborted (tooFewShared) —
    // including those the coordinator prunes at the close of ShareKeys for having fewer than t neighbours left.
    @Test func abortAtShareKeysCloseIsAnnounced() throws {
        var fixture = try RoundFixture(clients: 5, threshold: 3)
        try fixture.run(to: .shareKeys)
        try fixture.disconnect(4)
        try fixture.disconnect(5)
        try fixture.step()
        #expect(fixture.coordinator.abortReason?.code == .tooFewShared)
        try fixture.deliverToClients()
        for index: ParticipantIndex in [1, 2, 3] {
            #expect(fixture.clients[index]!.receipt?.outcome.abortCode == AbortCode.tooFewShared.rawValue,
                    "client \(index) was not told: \(String(describing: fixture.clients[index]!.receipt))")
        }
    }
}

extension ClientReceipt.Outcome {
    var abortCode: UInt16? {
        if case let .aborted(code, _) = self { return code }
        return nil
    }
}

