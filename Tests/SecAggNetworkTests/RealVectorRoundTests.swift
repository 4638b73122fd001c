import Foundation
import Logging
import SecAggClient
@testable import SecAggCoordinator
import SecAggCrypto
import SecAggPrivacy
import SecAggProtocol
import SecAggTesting
import Testing

/// Issue 12: a round of a real-vector task over loopback TCP, its clients encoding as SPEC §5.11 says: the result
/// file carries the released sum decoded into reals, equal to the sum of the clients' clipped vectors within the
/// rounding error.
@Suite("Real-vector round over TCP", .serialized)
struct RealVectorRoundTests {
    @Test("the published result of a real-vector task carries the decoded sum", .timeLimit(.minutes(2)))
    func decodedOverTCP() async throws {
        var (task, _) = try ConfigurationFile.parseTask("""
            name: sum
            dimension: 6
            bits: 32
            graph: harary
            degree: 4
            threshold: 3
            min_clients: 8
            max_clients: 8
            gather_seconds: 0.1
            encoder: {kind: real, clip: 2.0, granularity: 0.001953125, rotation_seed: "\(String(repeating: "5a", count: 32))"}
            """)
        task.timeouts = .uniform(.seconds(20))
        let encoding = try #require(task.encoder)
        let encoder = try encoding.encoder(bits: task.bits)
        let shift = Int64(encoding.shift(of: encoder))
        let reals: [[Double]] = (0..<ServiceHarness.honestCount).map { client -> [Double] in
            (0..<6).map { position -> Double in
                let step: Int = (client * 5 + position * 3) % 11 - 5
                return Double(step) * 0.07
            }
        }
        let results = try TestFiles.folder()
        try await ServiceHarness.withService(tasks: [task], resultsDirectory: results) { _, port, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<ServiceHarness.honestCount {
                    group.addTask {
                        // What a client does (SPEC §5.11): clip, rotate, scale, round, shift by B.
                        var random = SystemRandom()
                        let z = try encoder.quantize(reals[index], rotationSeed: encoding.rotationSeed, using: &random)
                        let client = ServiceHarness.client(ServiceHarness.honest[index], port: port)
                        let receipt = try await client.participate(input: z.map { UInt64($0 + shift) })
                        #expect(receipt.outcome == .completed(survivorCount: UInt32(ServiceHarness.honestCount)))
                    }
                }
                try await group.waitForAll()
            }
        }
        let folder = results.appendingPathComponent("sum")
        let file = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".json") })
        let published = try PublishedResult.decoded(Data(contentsOf: folder.appendingPathComponent(file)))
        #expect(published.encoder == encoding)
        let decoded = try #require(published.decoded)
        let expected = (0..<6).map { position in reals.reduce(0) { $0 + $1[position] } }
        #expect(decoded.count == 6)
        for (got, want) in zip(decoded, expected) { #expect(abs(got - want) < 0.05, "\(decoded) vs \(expected)") }
    }
}
