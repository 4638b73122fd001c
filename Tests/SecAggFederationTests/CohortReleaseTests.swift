import SecAggCrypto
import SecAggFederation
import SecAggMath
import SecAggWire
import Testing

/// Shard keys and releases built from fixed seeds, so every test sees the same bytes.
enum Fixture {
    static func key(_ byte: UInt8) -> Ed25519.SigningKey {
        // A fixed seed per shard: deterministic keys, deterministic (Ed25519) signatures.
        try! Ed25519.SigningKey(seed: SecureBytes(copying: [UInt8](repeating: byte, count: 32)))
    }

    static let globalRound = GlobalRoundID(bytes: [UInt8](repeating: 0x47, count: 16))!
    static let otherGlobalRound = GlobalRoundID(bytes: [UInt8](repeating: 0x48, count: 16))!

    static func release(
        by key: Ed25519.SigningKey, round: UInt8, values: [UInt64], bits: Int = 16, survivors: UInt32 = 10,
        task: String = "sum", globalRound: GlobalRoundID = globalRound, lift: CohortRelease.Lift = .unsigned,
        noise: CohortRelease.Noise = .none
    ) throws -> SignedCohortRelease {
        try CohortRelease(
            shard: key.verifyingKey, globalRound: globalRound, taskName: task,
            roundID: RoundID(bytes: [UInt8](repeating: round, count: 16))!, lift: lift, encoding: "integer",
            survivors: survivors, noise: noise, sum: ModularVector(values: values, bits: bits)
        ).signed(with: key)
    }
}

@Suite("Cohort release: signing and parsing")
struct CohortReleaseTests {
    /// The signed bytes, written out field by field as FEDERATION.md §2 lists them.
    @Test func signedContentLayout() throws {
        let key = Fixture.key(1)
        let signed = try Fixture.release(
            by: key, round: 9, values: [1, 2, 65_535], survivors: 7,
            noise: .init(kind: .central, varianceNumerator: 5, varianceDenominator: 2))
        var expected: [UInt8] = [24] + Array("secagg/v2/cohort-release".utf8)
        expected += key.verifyingKey.rawRepresentation
        expected += [UInt8](repeating: 0x47, count: 16)
        expected += [3] + Array("sum".utf8)
        expected += [UInt8](repeating: 9, count: 16)
        expected += [0, 0, 0, 3]  // dimension, big-endian like every wire integer
        expected += [16, 0]  // bits, lift
        expected += [0, 7] + Array("integer".utf8)
        expected += [0, 0, 0, 7]  // survivors
        expected += [1] + [0, 0, 0, 0, 0, 0, 0, 5] + [0, 0, 0, 0, 0, 0, 0, 2]
        expected += [1, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 0, 0]  // lanes: 4 bytes each, little-endian
        #expect(signed.release.signedContent == expected)
        #expect(signed.encoded == expected + signed.signature.rawRepresentation)
        #expect(key.verifyingKey.isValidSignature(signed.signature, for: expected))
    }

    @Test func roundTrip() throws {
        let signed = try Fixture.release(by: Fixture.key(2), round: 1, values: [3, 4, 5, 6], bits: 40, lift: .signed)
        let parsed = try SignedCohortRelease(decoding: signed.encoded, maximumDimension: 4)
        #expect(parsed == signed)
    }

    @Test func signingWithAnotherKeyIsRefused() throws {
        let release = try Fixture.release(by: Fixture.key(1), round: 1, values: [1]).release
        #expect(throws: CohortReleaseError.keyMismatch) { try release.signed(with: Fixture.key(2)) }
    }

    /// Every change to the bytes is refused: a changed sum or count by the signature, a broken frame as malformed.
    @Test func tamperingIsRefused() throws {
        let bytes = try Fixture.release(by: Fixture.key(1), round: 1, values: [10, 20, 30]).encoded
        var sum = bytes
        sum[sum.count - 64 - 4] ^= 1  // the low byte of the last lane: still a 16-bit value
        #expect(throws: CohortReleaseError.badSignature) { try SignedCohortRelease(decoding: sum, maximumDimension: 3) }
        var survivors = bytes
        let survivorsOffset = 1 + 24 + 32 + 16 + 4 + 16 + 4 + 2 + 9
        survivors[survivorsOffset + 3] ^= 1
        #expect(throws: CohortReleaseError.badSignature) {
            try SignedCohortRelease(decoding: survivors, maximumDimension: 3)
        }
        var label = bytes
        label[1] ^= 1
        #expect(throws: CohortReleaseError.malformed("not a cohort release (wrong label)")) {
            try SignedCohortRelease(decoding: label, maximumDimension: 3)
        }
        for broken in [Array(bytes.dropLast()), bytes + [0], Array(bytes.prefix(40)), []] {
            #expect(throws: CohortReleaseError.self) { try SignedCohortRelease(decoding: broken, maximumDimension: 3) }
        }
        #expect(throws: CohortReleaseError.malformed("dimension 3 (1...2)")) {
            try SignedCohortRelease(decoding: bytes, maximumDimension: 2)
        }
    }
}
