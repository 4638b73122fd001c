import Foundation
@testable import SecAggCoordinator
import SecAggProtocol
import SecAggWire
import SecAggTesting
import Testing

/// The published form of a round (issue 12): one typed document for the result file, admin show/export and the
/// CLI; a noised release read as signed integers (SPEC 5.10) beside its residues; abort codes rendered one way.
@Suite("Round results as published")
struct PublishedResultTests {
    static let roundID = RoundID(bytes: [UInt8](repeating: 0xab, count: 16))!

    static func record(
        bits: UInt8 = 32, noise: NoiseParameters = .none, sum: [UInt64]? = [1, 2, 3], abort: AbortReason? = nil
    ) -> RoundRecord {
        let parameters = RoundParameters(
            roundID: roundID, taskName: "t", dimension: UInt32(sum?.count ?? 3), bits: bits, maximumInput: 10,
            graph: .harary(degree: 4), threshold: 3, minimumSurvivors: 4, mode: .active, invitedCount: 6,
            nonce: [UInt8](repeating: 1, count: 32), noise: noise)
        return RoundRecord(
            task: "t", roundID: roundID, parameters: parameters, sum: sum, survivors: [1, 2, 3, 4],
            survivorIdentities: ["a", "b", "c", "d"], abortReason: abort, phaseSeconds: [.advertiseKeys: 0.014570752000000001],
            phaseCounts: [.advertiseKeys: 6], droppedPerPhase: [.shareKeys: 2], wallSeconds: 1.0000004, abortPhase: nil)
    }

    static let finished = Date(timeIntervalSince1970: 1_800_000_000)

    static func json(_ result: PublishedResult) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: try PublishedResult.encoded(result)) as? [String: Any])
    }

    @Test("residues read as signed: v >= 2^(bits-1) stands for v - 2^bits", arguments: [
        (UInt64(0), 8, Int64(0)), (127, 8, 127), (128, 8, -128), (255, 8, -1),
        (4_294_967_293, 32, -3), (2_147_483_647, 32, 2_147_483_647), (2_147_483_648, 32, -2_147_483_648),
        (UInt64.max, 64, -1), (UInt64(Int64.max), 64, Int64.max), (1, 1, -1), (0, 1, 0),
    ])
    func signedReading(residue: UInt64, bits: Int, expected: Int64) {
        #expect(PublishedResult.signed(residue, bits: bits) == expected)
    }

    @Test("a noised release is written signed, with its residues, noise kind, variance and sigma")
    func noisedRelease() throws {
        let variance = NoiseVariance(numerator: 9, denominator: 1)
        let residues: [UInt64] = [4_294_967_293, 12, 2_147_483_648]
        let result = PublishedResult(Self.record(noise: .central(variance: variance), sum: residues), finishedAt: Self.finished)
        let object = try Self.json(result)
        #expect((object["sum"] as? [NSNumber])?.map(\.int64Value) == [-3, 12, -2_147_483_648])
        #expect((object["sum_residues"] as? [NSNumber])?.map(\.uint64Value) == residues)
        let noise = try #require(object["noise"] as? [String: Any])
        #expect(noise["kind"] as? String == "central" && noise["variance"] as? String == "9/1")
        #expect(noise["sigma"] as? Double == 3)
        #expect(object["survivor_count"] as? Int == 4)
        #expect(object["finished_at"] as? String == "2027-01-15T08:00:00Z")
        #expect(try PublishedResult.decoded(PublishedResult.encoded(result)) == result)
        #expect(result.csv == "index,value,residue\n0,-3,4294967293\n1,12,12\n2,-2147483648,2147483648\n")
    }

    @Test("distributed noise: sigma of the sum is each client's sigma times the root of the survivors")
    func distributedSigma() throws {
        let result = PublishedResult(
            Self.record(noise: .distributed(localVariance: NoiseVariance(numerator: 25, denominator: 4))),
            finishedAt: Self.finished)
        #expect(result.noise.kind == .distributed)
        #expect(result.noise.variance == "25/4")
        #expect(result.noise.sigma == (25.0 / 4 * 4).squareRoot())
    }

    @Test("without noise the sum is the exact residues, once; a 64-bit sum above 2^63 stays exact")
    func exactRelease() throws {
        let object = try Self.json(PublishedResult(Self.record(), finishedAt: Self.finished))
        #expect((object["sum"] as? [NSNumber])?.map(\.uint64Value) == [1, 2, 3])
        #expect(object["sum_residues"] == nil)
        let noise = try #require(object["noise"] as? [String: Any])
        #expect(noise["kind"] as? String == "none" && noise["sigma"] == nil)
        let wide = PublishedResult(Self.record(bits: 64, sum: [UInt64.max - 1, 7]), finishedAt: Self.finished)
        #expect(wide.sum == nil, "no Int64 holds 2^64 - 2")
        let decoded = try PublishedResult.decoded(PublishedResult.encoded(wide))
        #expect(decoded.residues == [UInt64.max - 1, 7])
        #expect(wide.csv == "index,value\n0,18446744073709551614\n1,7\n")
    }

    @Test("timings are given to the millisecond")
    func timings() throws {
        let result = PublishedResult(Self.record(), finishedAt: Self.finished)
        #expect(result.phaseSeconds == ["advertise": 0.015])
        #expect(result.wallSeconds == 1)
        #expect(result.droppedPerPhase == ["share": 2] && result.phaseCounts == ["advertise": 6])
    }

    @Test("an aborted round has no sum and names its code by name and hex")
    func abortedRound() throws {
        var record = Self.record(sum: nil, abort: AbortReason(.budgetExhausted, "spent"))
        record.abortPhase = .advertiseKeys
        let result = PublishedResult(record, finishedAt: Self.finished)
        let object = try Self.json(result)
        #expect(object["outcome"] as? String == "aborted")
        #expect(object["sum"] == nil && result.csv == nil)
        let abort = try #require(object["abort"] as? [String: Any])
        #expect(abort["code"] as? String == "0x0207" && abort["name"] as? String == "budgetExhausted")
        #expect(abort["reason"] as? String == "spent" && abort["phase"] as? String == "advertise")
        #expect(try PublishedResult.decoded(PublishedResult.encoded(result)) == result)
    }

    @Test("a file whose signed sum disagrees with its residues is refused")
    func tamperedFile() throws {
        let variance = NoiseVariance(numerator: 9, denominator: 1)
        let result = PublishedResult(Self.record(noise: .central(variance: variance), sum: [5, 6, 7]), finishedAt: Self.finished)
        let text = String(decoding: try PublishedResult.encoded(result), as: UTF8.self)
        let tampered = text.replacingOccurrences(of: "\"sum\":[5,6,7]", with: "\"sum\":[5,6,8]")
        #expect(tampered != text)
        #expect(throws: DecodingError.self) { try PublishedResult.decoded(Data(tampered.utf8)) }
    }

    @Test("every abort code renders one way: its spec name and four hex digits")
    func abortCodeRendering() {
        #expect("\(AbortCode.budgetExhausted)" == "budgetExhausted (0x0207)")
        #expect("\(AbortReason(.tooFewShared, "only 2"))" == "tooFewShared (0x0102): only 2")
        #expect(AbortCode.rendering(0x0999) == "unknown code 0x0999")
        #expect(Set(AbortCode.allCases.map(\.name)).count == AbortCode.allCases.count)
        for code in AbortCode.allCases {
            #expect(code.hex.count == 6 && code.hex.hasPrefix("0x0"))
            #expect(UInt16(code.hex.dropFirst(2), radix: 16) == code.rawValue)
        }
    }
}
