import SecAggCrypto
import SecAggFederation
import SecAggMath
import SecAggWire
import Testing

@Suite("Combining cohort releases")
struct CohortCombinerTests {
    static let keys = ["a": Fixture.key(1), "b": Fixture.key(2), "c": Fixture.key(3), "d": Fixture.key(4)]

    static func expectation(lift: CohortRelease.Lift = .unsigned, shards: [String] = ["a", "b", "c", "d"])
        -> GlobalRoundExpectation
    {
        GlobalRoundExpectation(
            globalRound: Fixture.globalRound, taskName: "sum", dimension: 3, bits: 16, lift: lift, encoding: "integer",
            shards: Dictionary(uniqueKeysWithValues: shards.map { ($0, keys[$0]!.verifyingKey) }))
    }

    /// Three valid cohorts whose sums reach 2^16 − 1 add exactly in 16 + 2 bits; a shard whose round aborted is
    /// listed as excluded with its reason.
    @Test func exactSumInWiderBits() throws {
        let submissions: [String: CohortSubmission] = [
            "a": .release(try Fixture.release(by: Self.keys["a"]!, round: 1, values: [65_535, 1, 0]).encoded),
            "b": .release(try Fixture.release(by: Self.keys["b"]!, round: 2, values: [65_535, 2, 7]).encoded),
            "c": .release(try Fixture.release(by: Self.keys["c"]!, round: 3, values: [65_535, 3, 9], survivors: 5).encoded),
            "d": .none(reason: "round aborted: tooFewSurvivors"),
        ]
        let outcome = CohortCombiner.combine(
            submissions, expecting: Self.expectation(), policy: GlobalRoundPolicy(minimumCohorts: 3, minimumClients: 25))
        let sum = try outcome.result.get()
        #expect(sum.values == .unsigned([196_605, 6, 16]))
        #expect(sum.bits == 18)
        #expect(sum.survivors == 25)
        #expect(outcome.included.map(\.shard) == ["a", "b", "c"])
        #expect(outcome.excluded.map(\.shard) == ["d"])
        #expect(outcome.excluded.first?.reason == .noRelease("round aborted: tooFewSurvivors"))
    }

    /// Residues of a noisy task are centred: 65,535 is −1.
    @Test func signedLift() throws {
        let noise = CohortRelease.Noise(kind: .distributed, varianceNumerator: 1, varianceDenominator: 4)
        let submissions: [String: CohortSubmission] = [
            "a": .release(try Fixture.release(by: Self.keys["a"]!, round: 1, values: [65_535, 32_767, 5], lift: .signed,
                                              noise: .init(kind: .central, varianceNumerator: 5, varianceDenominator: 2)).encoded),
            "b": .release(try Fixture.release(by: Self.keys["b"]!, round: 2, values: [65_535, 32_768, 65_531],
                                              lift: .signed, noise: noise).encoded),
        ]
        let outcome = CohortCombiner.combine(
            submissions, expecting: Self.expectation(lift: .signed, shards: ["a", "b"]),
            policy: GlobalRoundPolicy(minimumCohorts: 2, minimumClients: 0))
        let sum = try outcome.result.get()
        #expect(sum.values == .signed([-2, 32_767 - 32_768, 0]))
        #expect(sum.bits == 17)
        // 5/2 central, plus 1/4 for each of b's 10 survivors.
        #expect(sum.noiseVariance == 5)
    }

    /// A real-encoded task's clients each add B to every lane (SPEC §5.11), so a cohort's sum carries survivors × B,
    /// which can reach past 2^(bits−1): the shift comes out of each cohort before the centred lift, or a large cohort
    /// would be read as negative.
    @Test func shiftedCohortsLiftAfterTheShiftIsOut() throws {
        // 16 bits, B = 1,000: cohort a (10 survivors) sums z = [+5, −7, 0] → residues 10,000 + z; cohort b
        // (40 survivors) sums z = [−3, +2, +1] → 40,000 + z, which is ≥ 2^15 and must not be read as negative.
        let a = try Fixture.release(by: Self.keys["a"]!, round: 1, values: [10_005, 9_993, 10_000], survivors: 10, lift: .signed)
        let b = try Fixture.release(by: Self.keys["b"]!, round: 2, values: [39_997, 40_002, 40_001], survivors: 40, lift: .signed)
        var expectation = Self.expectation(lift: .signed, shards: ["a", "b"])
        expectation.shiftPerSurvivor = 1_000
        let outcome = CohortCombiner.combine(
            ["a": .release(a.encoded), "b": .release(b.encoded)], expecting: expectation,
            policy: GlobalRoundPolicy(minimumCohorts: 2, minimumClients: 50))
        #expect(try outcome.result.get().values == .signed([2, -5, 1]))
        // Without taking the shift out, b's lanes would be centred as 39,997 − 65,536 and the sum would be garbage.
        expectation.shiftPerSurvivor = 0
        let unshifted = CohortCombiner.combine(
            ["a": .release(a.encoded), "b": .release(b.encoded)], expecting: expectation,
            policy: GlobalRoundPolicy(minimumCohorts: 2, minimumClients: 50))
        #expect(try unshifted.result.get().values != .signed([2, -5, 1]))
    }

    /// A forged, replayed, misdirected or mismatched release is excluded, with the reason; the honest cohorts still
    /// add up.
    @Test func badReleasesAreExcluded() throws {
        let honest = try Fixture.release(by: Self.keys["a"]!, round: 1, values: [1, 2, 3])
        let submissions: [String: CohortSubmission] = [
            "a": .release(honest.encoded),
            // b's slot, but signed by d (valid under d's key): not b's pinned key.
            "b": .release(try Fixture.release(by: Self.keys["d"]!, round: 2, values: [9, 9, 9]).encoded),
            // c's own release of an earlier global round.
            "c": .release(try Fixture.release(by: Self.keys["c"]!, round: 3, values: [9, 9, 9],
                                              globalRound: Fixture.otherGlobalRound).encoded),
            "d": .release(try Fixture.release(by: Self.keys["d"]!, round: 4, values: [9, 9, 9], task: "other").encoded),
            "e": .release(honest.encoded),
        ]
        let outcome = CohortCombiner.combine(
            submissions, expecting: Self.expectation(), policy: GlobalRoundPolicy(minimumCohorts: 1, minimumClients: 1))
        #expect(try outcome.result.get().values == .unsigned([1, 2, 3]))
        let reasons = Dictionary(uniqueKeysWithValues: outcome.excluded.map { ($0.shard, $0.reason) })
        #expect(reasons["b"] == .wrongKey(Self.keys["d"]!.verifyingKey))
        #expect(reasons["c"] == .wrongGlobalRound(Fixture.otherGlobalRound))
        #expect(reasons["d"] == .wrongTask("other"))
        #expect(reasons["e"] == .unknownShard)

        var altered = honest.encoded
        altered[altered.count - 64 - 8] ^= 1  // the middle lane's low byte
        let mismatched = try Fixture.release(by: Self.keys["b"]!, round: 2, values: [1, 2, 3], bits: 20)
        let second = CohortCombiner.combine(
            ["a": .release(altered), "b": .release(mismatched.encoded)], expecting: Self.expectation(),
            policy: GlobalRoundPolicy(minimumCohorts: 1, minimumClients: 0))
        let secondReasons = Dictionary(uniqueKeysWithValues: second.excluded.map { ($0.shard, $0.reason) })
        #expect(secondReasons["a"] == .invalid(.badSignature))
        #expect(secondReasons["b"] == .parameterMismatch("bits 20, expected 16"))
        #expect(secondReasons["c"] == .noRelease("nothing was submitted"))
        #expect(second.result == .failure(.tooFewCohorts(included: 0, required: 1)))
    }

    /// Two shard names pinned to one key (a misconfiguration) cannot count one cohort twice.
    @Test func duplicatesCountOnce() throws {
        let release = try Fixture.release(by: Self.keys["a"]!, round: 1, values: [1, 1, 1])
        var expectation = Self.expectation(shards: ["a"])
        expectation.shards["a2"] = Self.keys["a"]!.verifyingKey
        let outcome = CohortCombiner.combine(
            ["a": .release(release.encoded), "a2": .release(release.encoded)], expecting: expectation,
            policy: GlobalRoundPolicy(minimumCohorts: 1, minimumClients: 0))
        #expect(try outcome.result.get().values == .unsigned([1, 1, 1]))
        #expect(outcome.excluded.map(\.shard) == ["a2"])
    }

    @Test func policyRefusesTooLittle() throws {
        let submissions: [String: CohortSubmission] = [
            "a": .release(try Fixture.release(by: Self.keys["a"]!, round: 1, values: [1, 1, 1], survivors: 10).encoded),
            "b": .release(try Fixture.release(by: Self.keys["b"]!, round: 2, values: [1, 1, 1], survivors: 10).encoded),
        ]
        let expectation = Self.expectation(shards: ["a", "b"])
        #expect(CohortCombiner.combine(submissions, expecting: expectation,
                                       policy: GlobalRoundPolicy(minimumCohorts: 3, minimumClients: 0)).result
            == .failure(.tooFewCohorts(included: 2, required: 3)))
        #expect(CohortCombiner.combine(submissions, expecting: expectation,
                                       policy: GlobalRoundPolicy(minimumCohorts: 2, minimumClients: 21)).result
            == .failure(.tooFewClients(included: 20, required: 21)))
    }
}
