import Foundation
import SecAggCoordinator
import SecAggCrypto
import SecAggFederation
import SecAggMath
import SecAggRoot
import SecAggSimulation
import SecAggWire
import Testing

/// The root's record of a global round: for a real-encoded task, the cohorts' shifted sums combine and decode into
/// the sum of every client's clipped real vector, whatever the cohorts' sizes.
@Suite("Global round records")
struct GlobalRoundReportTests {
    static let seed = String(repeating: "5a", count: 32)
    static let definition = """
        name: model
        dimension: 5
        bits: 32
        min_clients: 3
        max_clients: 200
        encoder: {kind: real, clip: 1.0, granularity: 0.0009765625, rotation_seed: "\(seed)"}
        """

    static func key(_ byte: UInt8) -> Ed25519.SigningKey {
        try! Ed25519.SigningKey(seed: SecureBytes(copying: [UInt8](repeating: byte, count: 32)))
    }

    @Test("real-encoded cohorts of 150 and 4 clients decode to the sum of all their clipped vectors")
    func realEncodedCohortsDecode() throws {
        let task = try ConfigurationFile.task(definition: Self.definition)
        let encoding = try #require(task.encoder)
        let encoder = try encoding.encoder(bits: 32)
        let shift = encoding.shift(of: encoder)
        var random = SeededRandom(seed: 9, stream: "root-report")
        var globalRound = SeededRandom(seed: 1, stream: "g")
        let round = GlobalRoundID(using: &globalRound)
        let shards = ["a": Self.key(1), "b": Self.key(2)]
        var expected = [Double](repeating: 0, count: 5)
        var submissions: [String: CohortSubmission] = [:]
        // Each cohort's lanes carry its own survivors × B (the combiner takes it out per cohort: CohortCombinerTests
        // shows a lane that would otherwise be read as negative).
        for (name, count) in [("a", 150), ("b", 4)] {
            var sum = [UInt64](repeating: 0, count: encoder.encodedDimension)
            for client in 0..<count {
                let input = (0..<5).map { position in Double((client + position) % 7 - 3) * 0.05 }
                for position in 0..<5 { expected[position] += input[position] }
                let z = try encoder.quantize(input, rotationSeed: encoding.rotationSeed, using: &random)
                for index in z.indices {
                    sum[index] = (sum[index] &+ UInt64(bitPattern: z[index] + Int64(shift))) & 0xFFFF_FFFF
                }
            }
            let release = try CohortRelease(
                shard: shards[name]!.verifyingKey, globalRound: round, taskName: "model",
                roundID: RoundID(bytes: [UInt8](repeating: UInt8(count), count: 16))!, lift: .signed,
                encoding: encoding.canonicalDescription, survivors: UInt32(count), noise: .none,
                sum: ModularVector(values: sum, bits: 32)
            ).signed(with: shards[name]!)
            submissions[name] = .release(release.encoded)
        }
        let outcome = CohortCombiner.combine(
            submissions, expecting: task.cohortExpectation(globalRound: round, shards: shards.mapValues(\.verifyingKey)),
            policy: GlobalRoundPolicy(minimumCohorts: 2, minimumClients: 154))
        let record = GlobalRoundReport.finished(outcome, globalRound: round, task: task)
        #expect(record["state"] as? String == "released", "\(record)")
        #expect(record["bits"] as? Int == 33)
        let decoded = try #require(record["decoded"] as? [Double], "\(record)")
        #expect(decoded.count == 5)
        for (got, want) in zip(decoded, expected) { #expect(abs(got - want) < 0.2, "\(decoded) vs \(expected)") }
        #expect(record["noise_rmse"] as? Double == 0)
    }

    @Test("an aborted global round records why and no sum")
    func abortedRecord() throws {
        let task = try ConfigurationFile.task(definition: Self.definition)
        var source = SeededRandom(seed: 2, stream: "g")
        let round = GlobalRoundID(using: &source)
        let outcome = CohortCombiner.combine(
            ["a": .none(reason: "unreachable: refused")],
            expecting: task.cohortExpectation(globalRound: round, shards: ["a": Self.key(1).verifyingKey]),
            policy: GlobalRoundPolicy(minimumCohorts: 1, minimumClients: 1))
        let record = GlobalRoundReport.finished(outcome, globalRound: round, task: task)
        #expect(record["state"] as? String == "aborted")
        #expect(record["sum"] == nil && record["decoded"] == nil)
        #expect((record["failure"] as? String)?.contains("0 cohort(s) included") == true, "\(record)")
        #expect((record["excluded"] as? [[String: String]])?.first?["reason"] == "no release: unreachable: refused")
    }
}
