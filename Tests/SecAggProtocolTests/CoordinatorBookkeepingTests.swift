import SecAggTesting
import Testing
import SecAggCrypto
import SecAggMath
@testable import SecAggProtocol
import SecAggSimulation
import SecAggWire

/// The coordinator's incremental bookkeeping (phase progress, U2 pruning, share counts, parallel unmasking) agrees
/// with the definitions it replaces.
@Suite("Coordinator bookkeeping")
struct CoordinatorBookkeepingTests {
    @Test("progress counts the awaited members of each phase through answers and drops")
    func progressFollowsAnswersAndDrops() throws {
        var fixture = try RoundFixture(clients: 7, threshold: 3, graph: .complete)
        try fixture.start()
        var progress = try #require(fixture.coordinator.progress)
        #expect(progress.phase == .advertiseKeys)
        #expect((progress.received, progress.expected) == (0, 7))
        try fixture.disconnect(7)
        progress = try #require(fixture.coordinator.progress)
        #expect((progress.received, progress.expected) == (0, 6))
        try fixture.deliverToClients()
        try fixture.deliverToCoordinator()
        progress = try #require(fixture.coordinator.progress)
        #expect((progress.received, progress.expected, progress.isComplete) == (6, 6, true))
        try fixture.advance()

        // ShareKeys: one answers, then another disconnects before answering.
        try fixture.deliverToClients()
        let queued = fixture.toCoordinator
        fixture.toCoordinator = []
        try fixture.coordinatorHandle(queued[0].message, from: queued[0].sender)
        progress = try #require(fixture.coordinator.progress)
        #expect(progress.phase == .shareKeys)
        #expect((progress.received, progress.expected) == (1, 6))
        try fixture.disconnect(queued[1].sender)
        progress = try #require(fixture.coordinator.progress)
        #expect((progress.received, progress.expected) == (1, 5))
        // A rejected message changes nothing.
        #expect(throws: CoordinatorError.self) {
            try fixture.coordinatorHandle(queued[0].message, from: queued[0].sender)
        }
        progress = try #require(fixture.coordinator.progress)
        #expect((progress.received, progress.expected) == (1, 5))
        for (sender, message) in queued.dropFirst(2) { try fixture.coordinatorHandle(message, from: sender) }
        progress = try #require(fixture.coordinator.progress)
        #expect((progress.received, progress.expected, progress.isComplete) == (5, 5, true))
        let result = try #require(try fixture.finish())
        fixture.expectExactSum(survivors: result.survivors)
    }

    @Test("pruning reaches the same fixed point as repeated sweeps", arguments: UInt64(1)...40)
    func pruningMatchesSweeps(seed: UInt64) throws {
        var random = SeededRandom(seed: seed, stream: "prune")
        let count = 20 + Int(random.uniform(below: 60))
        let degree = 2 + Int(random.uniform(below: 8))
        let threshold = 1 + Int(random.uniform(below: UInt64(degree)))
        var coin = SeededRandom(seed: seed, stream: "coin")
        let graph = try NeighborGraph(participants: Array(1...UInt32(count)), kind: .harary(degree: degree), coin: &coin)
        let keep = UInt64(50 + random.uniform(below: 50))
        let members = Set((1...UInt32(count)).filter { _ in random.uniform(below: 100) < keep })

        var incremental = members
        let removed = CoordinatorStateMachine.prune(&incremental, graph: graph, threshold: threshold)

        var swept = members
        var changed = true
        while changed {
            changed = false
            for member in swept.sorted() where graph.neighbors(of: member).count(where: { swept.contains($0) }) < threshold {
                swept.remove(member)
                changed = true
            }
        }
        #expect(incremental == swept)
        #expect(removed == members.subtracting(swept).sorted())
        #expect(incremental.allSatisfy { member in
            graph.neighbors(of: member).count(where: { incremental.contains($0) }) >= threshold
        })
    }

    @Test("the released sum does not depend on the number of unmasking workers", arguments: [1, 2, 5])
    func unmaskingWorkers(workers: Int) throws {
        // Dropouts after sharing force masking-key reconstructions as well as self-mask ones.
        var fixture = try RoundFixture(
            clients: 12, threshold: 3, graph: .harary(degree: 6), dimension: 300, seed: 7, unmaskingWorkers: workers)
        try fixture.run(to: .maskedInputCollection)
        try fixture.disconnect(2)
        try fixture.disconnect(9)
        let result = try #require(try fixture.finish())
        #expect(result.survivors.count == 10)
        fixture.expectExactSum(survivors: result.survivors)
    }
}
