import SecAggTesting
import Testing
import SecAggCrypto
import SecAggProtocol
import SecAggSimulation
import SecAggWire

// Seeded random dropout schedules, each client leaving (or not) before or after answering in some phase.
// Whatever happens, the round releases exactly the sum of the clients whose masked inputs reached the coordinator,
// or aborts cleanly with a reason; it never releases a wrong sum.
@Suite("Random dropouts")
struct RandomDropoutTests {
    struct Departure: Hashable {
        var phase: RoundPhase
        var afterAnswering: Bool
    }

    // Twelve seeded schedules per mode and graph: exact sum of the masked inputs that arrived, or a clean abort.
    @Test(arguments: [RoundMode.honestButCurious, .active], [GraphShape.complete, .harary(degree: 4)])
    func exactSumOrCleanAbort(mode: RoundMode, graph: GraphShape) throws {
        let phases: [RoundPhase] = mode == .active
            ? RoundPhase.allCases
            : RoundPhase.allCases.filter { $0 != .consistencyCheck }
        // Active mode needs 2t > neighbours: 6 on the complete graph of 7, 4 on the Harary graph.
        let threshold: UInt32 = mode == .active && graph == .complete ? 4 : 3
        var completed = 0
        var aborted = 0
        for seed in UInt64(1)...12 {
            var fixture = try RoundFixture(clients: 7, threshold: threshold, mode: mode, graph: graph, dimension: 5, seed: seed)
            var schedule = SeededRandom(seed: seed, stream: "dropouts")
            var departures: [ParticipantIndex: Departure] = [:]
            for index in fixture.indices where schedule.uniform(below: 10) >= 6 {
                departures[index] = Departure(
                    phase: phases[Int(schedule.uniform(below: UInt64(phases.count)))],
                    afterAnswering: schedule.uniform(below: 2) == 1)
            }
            var maskedInputsIn: Set<ParticipantIndex> = []
            try fixture.start()
            while let phase = fixture.coordinator.phase {
                for (index, departure) in departures where departure == Departure(phase: phase, afterAnswering: false) {
                    try fixture.disconnect(index)
                }
                try fixture.deliverToClients()
                for (sender, message) in fixture.toCoordinator where message.typeCode == 0x43 && !fixture.offline.contains(sender) {
                    maskedInputsIn.insert(sender)
                }
                try fixture.deliverToCoordinator()
                for (index, departure) in departures where departure == Departure(phase: phase, afterAnswering: true) {
                    try fixture.disconnect(index)
                }
                try fixture.advance()
            }
            try fixture.deliverToClients()
            let comment: Comment = "seed \(seed), departures \(departures.sorted { $0.key < $1.key })"
            if let result = fixture.coordinator.result {
                completed += 1
                #expect(Set(result.survivors) == maskedInputsIn, comment)
                #expect(result.sum.values == fixture.expectedSum(of: result.survivors), comment)
                #expect(result.survivors.count >= Int(fixture.parameters.minimumSurvivors), comment)
            } else {
                aborted += 1
                let reason = try #require(fixture.coordinator.abortReason, comment)
                let clean: Set<AbortCode> = [.tooFewAdvertised, .tooFewShared, .tooFewMaskedInputs,
                                             .tooFewConsistencySignatures, .tooFewUnmaskResponses, .reconstructionFailed]
                #expect(clean.contains(reason.code), "\(reason); \(comment)")
            }
            // Every client still connected at the end knows how the round ended.
            for index in fixture.indices where !fixture.offline.contains(index) {
                #expect(fixture.clients[index]!.receipt != nil, "client \(index) has no receipt; \(comment)")
            }
        }
        #expect(completed > 0)
        #expect(completed + aborted == 12)
    }
}
