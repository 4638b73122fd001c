import Foundation
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggTesting
import SecAggWire
import Testing

/// Issue 16, the shard side: `startGlobalRound` binds the next round of a task to a root's global round, once, and
/// `cohortRelease` gives that round's release signed with the coordinator's identity key (protocol/FEDERATION.md),
/// which the combiner accepts and adds to exactly the honest clients' sum.
@Suite("Global rounds on a shard")
struct GlobalRoundTests {
    typealias Base = ServiceHarness

    /// The harness task as a root pushes it (`start: on_request`): a round starts only when asked, although
    /// max_clients wait and the gather window is short.
    static let task: TaskConfiguration = {
        var task = Base.task(clients: Base.honestCount)
        task.gatherWindow = .milliseconds(100)
        task.startsOnRequest = true
        return task
    }()

    static func object(_ response: AdminResponse) throws -> [String: Any] {
        try #require(response.status == .ok, "\(response.body)")
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
    }

    @Test("a shard's round of a global round yields a signed cohort release the combiner adds exactly")
    func signedCohortRelease() async throws {
        let globalRound = try #require(GlobalRoundID(hex: "0123456789abcdef0123456789abcdef"))
        let other = try #require(GlobalRoundID(hex: "ffeeddccbbaa99887766554433221100"))
        try await Base.withService(tasks: [Self.task]) { service, port, logs in
            // Nothing to release before the round exists.
            #expect(await service.handleAdmin(.cohortRelease(task: "sum", globalRound: globalRound), actor: "test").status
                == .notFound)
            let clients = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<Base.honestCount {
                        group.addTask { _ = try await Base.client(Base.honest[index], port: port).participate(input: Base.input(index)) }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(await logs.count(Base.honestCount, where: { $0.message == "joined" }, within: .seconds(60)))
            // A full queue and an elapsed gather window start nothing: the round waits for its global round.
            try await Task.sleep(for: .milliseconds(500))
            #expect(service.schedulers["sum"]?.monitor.current == nil, "a round started without being asked")
            let rounds = await service.handleAdmin(.listRounds(task: "sum", limit: 10), actor: "test")
            #expect(rounds.status == .ok && rounds.body == "[]", "\(rounds.body)")
            let started = try Self.object(
                await service.handleAdmin(.startGlobalRound(task: "sum", globalRound: globalRound), actor: "root"))
            #expect(started["global_round"] as? String == "\(globalRound)")
            try await clients.value


            let answer = try Self.object(
                await service.handleAdmin(.cohortRelease(task: "sum", globalRound: globalRound), actor: "root"))
            let hex = try #require(answer["release"] as? String)
            let decoded = bytes(fromHex: hex)
            let bytes = try #require(decoded, "release is not hex")
            let signed = try SignedCohortRelease(decoding: bytes, maximumDimension: Base.dimension)
            #expect(signed.release.shard == Base.coordinatorKey.verifyingKey)
            #expect(signed.release.globalRound == globalRound)
            #expect(signed.release.survivors == UInt32(Base.honestCount))
            #expect(signed.release.lift == .unsigned)
            #expect(signed.release.encoding == "integer")
            let record = try #require(await service.filedRounds(of: "sum").first)
            #expect(signed.release.roundID == record.roundID)
            #expect(record.globalRound == globalRound)

            // The root's side: one shard, one cohort, the honest clients' exact sum.
            let outcome = CohortCombiner.combine(
                ["shard-0": .release(bytes)],
                expecting: GlobalRoundExpectation(
                    globalRound: globalRound, taskName: "sum", dimension: Base.dimension, bits: 32, lift: .unsigned,
                    encoding: "integer", shards: ["shard-0": Base.coordinatorKey.verifyingKey]),
                policy: GlobalRoundPolicy(minimumCohorts: 1, minimumClients: Base.honestCount))
            #expect(try outcome.result.get().values == .unsigned(Base.expectedHonestSum))

            // One round per global round; another global round has no release.
            let again = await service.handleAdmin(.startGlobalRound(task: "sum", globalRound: globalRound), actor: "root")
            #expect(again.status == .failed && again.body.contains("already ran round \(record.roundID)"), "\(again.body)")
            #expect(await service.handleAdmin(.cohortRelease(task: "sum", globalRound: other), actor: "root").status
                == .notFound)
            #expect(await service.handleAdmin(.cohortRelease(task: "nope", globalRound: globalRound), actor: "root").status
                == .notFound)
        }
    }
}
