import Foundation
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggSimulation
import SecAggTesting
import SecAggWire
import Testing

/// Issue 12: a task can declare that its clients encode real vectors (SPEC §5.11); the coordinator then derives the
/// wire dimension, the maximum input and the L2 sensitivity from it (fail closed on contradicting values), keeps it
/// with each round, and publishes the released sum decoded into reals as well.
@Suite("Real-vector tasks")
struct RealVectorTaskTests {
    static let seed = String(repeating: "ab", count: 32)

    static func definition(_ extra: String = "", encoder: String? = nil) -> String {
        """
        name: model
        dimension: 5
        bits: 32
        min_clients: 3
        max_clients: 8
        encoder: \(encoder ?? "{kind: real, clip: 1.0, granularity: 0.0009765625, rotation_seed: \"\(seed)\"}")
        \(extra)
        """
    }

    @Test("an encoder fixes the wire dimension (D), the maximum input (2B) and the L2 sensitivity; round-trips")
    func derivedValues() throws {
        let (task, entry) = try ConfigurationFile.parseTask(Self.definition(
            "privacy: {noise: central, epsilon_per_round: 1, budget_epsilon: 10}"))
        let encoding = try #require(task.encoder)
        let encoder = try encoding.encoder(bits: 32)
        #expect(task.dimension == 8 && encoder.encodedDimension == 8, "5 entries pad to 8")
        #expect(task.maximumInput == 2 * encoding.shift(of: encoder))
        #expect(task.maximumInput >= 2 * 1024, "c = C/γ = 1024, so B ≥ 1024")
        #expect(task.privacy?.l2Sensitivity == encoder.l2SensitivityBound)
        #expect(encoding.rotationSeed == [UInt8](repeating: 0xAB, count: 32))
        // The stored definition reads back as the same task (d, not D; no max_input, no privacy.clip).
        let definition = ConfigurationFile.definition(of: task)
        #expect(definition.dimension == 5 && definition.maxInput == nil && definition.privacy?.clip == nil)
        let again = try ConfigurationFile.parseTask(ConfigurationFile.json(definition)).0
        #expect(again.encoder == task.encoder && again.dimension == task.dimension && again.maximumInput == task.maximumInput)
        _ = entry
    }

    @Test("contradicting or malformed encoder settings are refused, each with a sentence", arguments: [
        (definition("max_input: 10"), "max_input is fixed by the encoder"),
        (definition("privacy: {clip: 3, budget_epsilon: 10}"), "privacy.clip is fixed by the encoder"),
        (definition(encoder: "{kind: real, clip: 1, granularity: 0.01, rotation_seed: \"abcd\"}"), "rotation_seed must be 64 hex digits"),
        (definition(encoder: "{kind: bits, clip: 1, granularity: 0.01, rotation_seed: \"\(seed)\"}"), "encoder.kind must be real"),
        (definition(encoder: "{kind: real, clip: -1, granularity: 0.01, rotation_seed: \"\(seed)\"}"), "encoder:"),
        (definition(encoder: "{kind: real, clip: 1, granularity: 0.01, rotation_seed: \"\(seed)\", rotaton: 1}"), "unknown key 'encoder.rotaton'"),
        (definition().replacingOccurrences(of: "encoder:", with: "# encoder:"), "missing key 'max_input'"),
    ])
    func refused(_ text: String, _ expected: String) throws {
        let error = try #require(throws: CoordinatorConfigurationError.self) { try ConfigurationFile.parseTask(text) }
        #expect(error.problems.contains { $0.contains(expected) }, "\(error.problems)")
    }

    // The decoded sum is what the clients' clipped vectors add up to (within the rounding error), for a sum that
    // went through the encoder exactly as clients and the wire do.
    @Test("the published result decodes the released sum into reals")
    func decodedResult() throws {
        let (task, _) = try ConfigurationFile.parseTask(Self.definition())
        let encoding = try #require(task.encoder)
        let encoder = try encoding.encoder(bits: 32)
        let shift = Int64(encoding.shift(of: encoder))
        var random = SeededRandom(seed: 5, stream: "real-vectors")
        let inputs: [[Double]] = (0..<6).map { client -> [Double] in
            let sign = Double(client % 3 - 1)
            return (0..<5).map { position -> Double in Double(position + 1) * sign * 0.1 }
        }
        var sum = [UInt64](repeating: 0, count: encoder.encodedDimension)
        for input in inputs {
            let z = try encoder.quantize(input, rotationSeed: encoding.rotationSeed, using: &random)
            for index in z.indices {
                let lane = UInt64(z[index] + shift)
                sum[index] = (sum[index] &+ lane) & 0xFFFF_FFFF
            }
        }
        var record = RoundRecord(
            task: "model", roundID: Fixtures.roundID(3), parameters: Fixtures.parameters(Fixtures.roundID(3), task: "model"),
            sum: sum, survivors: Array(1...6), survivorIdentities: (0..<6).map { "client-\($0)" }, abortReason: nil,
            phaseSeconds: [:], phaseCounts: [:], droppedPerPhase: [:], wallSeconds: 1)
        record.encoder = encoding
        let published = PublishedResult(record, finishedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let decoded = try #require(published.decoded)
        let expected = (0..<5).map { position in inputs.reduce(0) { $0 + $1[position] } }
        #expect(decoded.count == 5)
        for (got, want) in zip(decoded, expected) { #expect(abs(got - want) < 0.05, "\(decoded) vs \(expected)") }
        // The JSON carries the encoder and the decoded vector, and reads back to the same result.
        let json = try PublishedResult.encoded(published)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect((object["decoded"] as? [Double])?.count == 5)
        #expect((object["encoder"] as? [String: Any])?["rotation_seed"] as? String == Self.seed)
        #expect(try PublishedResult.decoded(json) == published)
        // Without an encoder there is nothing to decode.
        record.encoder = nil
        #expect(PublishedResult(record, finishedAt: Date()).decoded == nil)
    }
}
