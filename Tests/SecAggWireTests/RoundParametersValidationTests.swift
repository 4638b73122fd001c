import Testing
import SecAggWire

@Suite("RoundParameters.validate()")
struct RoundParametersValidationTests {
    /// Valid honest-but-curious parameters on a complete graph, to be varied one field at a time
    /// (minimumSurvivors defaults to threshold + 1, the smallest valid value).
    static func base(
        invited: UInt32 = 10, bits: UInt8 = 32, maximumInput: UInt64 = 1000, graph: GraphShape = .complete,
        threshold: UInt32 = 3, minimumSurvivors: UInt32? = nil, mode: RoundMode = .honestButCurious
    ) -> RoundParameters {
        RoundParameters(
            roundID: sampleRoundID, taskName: "task", dimension: 16, bits: bits, maximumInput: maximumInput,
            graph: graph, threshold: threshold, minimumSurvivors: minimumSurvivors ?? threshold + 1, mode: mode,
            invitedCount: invited, nonce: ramp(32, from: 7))
    }

    /// The field an `.invalidField` error names, or nil.
    static func failingField(_ parameters: RoundParameters) -> String? {
        do {
            try parameters.validate()
            return nil
        } catch {
            if case let .invalidField(field, _) = error { return field }
            return "overflow"
        }
    }

    /// Whether validation reports a possible overflow.
    static func overflows(_ parameters: RoundParameters) -> Bool {
        do {
            try parameters.validate()
            return false
        } catch {
            if case let .sumMayOverflow(count, maximum, bits) = error {
                return count == parameters.invitedCount && maximum == parameters.maximumInput && bits == parameters.bits
            }
            return false
        }
    }

    // The reference parameters and the shared sample are accepted.
    @Test func acceptsValid() throws {
        try Self.base().validate()
        try sampleParameters().validate()
    }

    // n × maximumInput may reach exactly 2^bits − 1 but not 2^bits, for small and large widths.
    @Test(arguments: [
        (UInt8(1), UInt32(2), UInt64(0)),
        (8, 3, 85),          // 255
        (8, 255, 1),         // 255
        (16, 2, 32_767),     // 65534
        (31, 2, 0x3fff_ffff),
        (32, 5, 858_993_459),  // 4294967295
        (63, 3, 3_074_457_345_618_258_602),   // 2^63 − 1 − 1
        (64, 3, 6_148_914_691_236_517_205),   // 3 × that = 2^64 − 1
        (64, 1_000_000, 18_446_744_073_709),  // 1e6 × that < 2^64
    ])
    func overflowRuleAtTheEdge(bits: UInt8, invited: UInt32, maximum: UInt64) throws {
        let limit: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        #expect(UInt64(invited) * maximum <= limit)  // the test's own premise
        let fits = Self.base(invited: invited, bits: bits, maximumInput: maximum, threshold: 1)
        #expect(throws: Never.self) { try fits.validate() }
        // One more per entry pushes the worst-case sum past 2^bits − 1 (or past 2^64 for bits = 64).
        let next = Self.base(invited: invited, bits: bits, maximumInput: maximum + 1, threshold: 1)
        let nextSum = UInt64(invited).multipliedReportingOverflow(by: maximum + 1)
        if nextSum.overflow || nextSum.partialValue > limit {
            #expect(Self.overflows(next))
        }
    }

    // Exact edges where one more unit overflows: (2^bits − 1)/n is the largest safe maximum.
    @Test(arguments: [UInt8(2), 8, 13, 32, 33, 63, 64], [UInt32(2), 3, 7, 1_000_000])
    func largestSafeMaximum(bits: UInt8, invited: UInt32) {
        let limit: UInt64 = bits == 64 ? .max : (1 << UInt64(bits)) - 1
        let largest = limit / UInt64(invited)
        let safe = Self.base(invited: invited, bits: bits, maximumInput: largest, threshold: 1)
        let unsafe = Self.base(invited: invited, bits: bits, maximumInput: largest + 1, threshold: 1)
        #expect(Self.failingField(safe) == nil)
        #expect(Self.overflows(unsafe))
    }

    // A product that overflows 64 bits (even though each factor fits) is an overflow, not a wrapped small number.
    @Test func productOverflowing64Bits() {
        // 2 × (2^63 + 1) wraps to 2 in 64-bit arithmetic; validate must not be fooled.
        let parameters = Self.base(invited: 2, bits: 64, maximumInput: (1 << 63) + 1, threshold: 1)
        #expect(Self.overflows(parameters))
        #expect(parameters.maximumSum == nil)
        let maximal = Self.base(invited: 1_000_000, bits: 64, maximumInput: .max, threshold: 1)
        #expect(Self.overflows(maximal))
    }

    // maximumSum is n × maximumInput when it fits in 64 bits.
    @Test func maximumSum() {
        #expect(Self.base(invited: 10, maximumInput: 1000).maximumSum == 10_000)
        #expect(Self.base(invited: 3, bits: 64, maximumInput: UInt64.max / 3).maximumSum == .max)
    }

    // Each field outside its range is named by the error.
    @Test func fieldRanges() {
        var p = Self.base()
        p.taskName = ""
        #expect(Self.failingField(p) == "taskName")
        p.taskName = String(repeating: "a", count: 256)
        #expect(Self.failingField(p) == "taskName")
        p.taskName = String(repeating: "é", count: 128)  // 256 UTF-8 bytes though 128 characters
        #expect(Self.failingField(p) == "taskName")
        p.taskName = String(repeating: "a", count: 255)
        #expect(Self.failingField(p) == nil)

        p = Self.base()
        p.dimension = 0
        #expect(Self.failingField(p) == "dimension")
        p.dimension = (1 << 28) + 1
        #expect(Self.failingField(p) == "dimension")
        p.dimension = 1 << 28
        #expect(Self.failingField(p) == nil)

        for bits: UInt8 in [0, 65, 255] {
            p = Self.base(maximumInput: 0)
            p.bits = bits
            #expect(Self.failingField(p) == "bits")
        }

        for invited: UInt32 in [0, 1, 1_000_001] {
            #expect(Self.failingField(Self.base(invited: invited, threshold: 1)) == "invitedCount")
        }
        #expect(Self.failingField(Self.base(invited: 1_000_000, maximumInput: 1, threshold: 1)) == nil)

        for nonce in [[UInt8](), ramp(31, from: 0), ramp(33, from: 0)] {
            p = Self.base()
            p.nonce = nonce
            #expect(Self.failingField(p) == "nonce")
        }
    }

    // The threshold lies in 1…n−1 and minimumSurvivors in threshold+1…n (with only t survivors each would have
    // t − 1 neighbours, fewer than the t share holders it needs).
    @Test func thresholdAndSurvivors() {
        #expect(Self.failingField(Self.base(threshold: 0, minimumSurvivors: 1)) == "threshold")
        #expect(Self.failingField(Self.base(invited: 10, threshold: 10, minimumSurvivors: 10)) == "threshold")
        #expect(Self.failingField(Self.base(invited: 10, threshold: 9, minimumSurvivors: 10)) == nil)
        #expect(Self.failingField(Self.base(threshold: 3, minimumSurvivors: 2)) == "minimumSurvivors")
        #expect(Self.failingField(Self.base(threshold: 3, minimumSurvivors: 3)) == "minimumSurvivors")
        #expect(Self.failingField(Self.base(threshold: 3, minimumSurvivors: 4)) == nil)
        #expect(Self.failingField(Self.base(invited: 10, threshold: 3, minimumSurvivors: 10)) == nil)
        #expect(Self.failingField(Self.base(invited: 10, threshold: 3, minimumSurvivors: 11)) == "minimumSurvivors")
        #expect(Self.failingField(Self.base(invited: 2, threshold: 1, minimumSurvivors: 2)) == nil)
    }

    // A Harary degree is at least 1 and at least the threshold.
    @Test func hararyDegree() {
        #expect(Self.failingField(Self.base(graph: .harary(degree: 0), threshold: 1)) == "degree")
        #expect(Self.failingField(Self.base(graph: .harary(degree: 2), threshold: 3)) == "threshold")
        #expect(Self.failingField(Self.base(graph: .harary(degree: 3), threshold: 3)) == nil)
        // A degree above n − 1 just means a complete graph.
        #expect(Self.failingField(Self.base(invited: 10, graph: .harary(degree: 50), threshold: 9)) == nil)
        #expect(Self.base(invited: 10, graph: .harary(degree: 50)).neighbourCount == 9)
        #expect(Self.base(invited: 10, graph: .harary(degree: 4)).neighbourCount == 4)
        #expect(Self.base(invited: 10).neighbourCount == 9)
    }

    // Active mode needs a threshold above half the share holders: 2t > n − 1 on a complete graph, 2t > k on an even Harary graph.
    @Test func activeModeMajority() {
        // Complete graph, n = 10: 9 holders, t = 5 is the smallest majority.
        #expect(Self.failingField(Self.base(invited: 10, threshold: 4, mode: .active)) == "threshold")
        #expect(Self.failingField(Self.base(invited: 10, threshold: 5, mode: .active)) == nil)
        // n = 9: 8 holders, t = 4 is not a majority, 5 is.
        #expect(Self.failingField(Self.base(invited: 9, threshold: 4, mode: .active)) == "threshold")
        #expect(Self.failingField(Self.base(invited: 9, threshold: 5, mode: .active)) == nil)
        // Harary k = 4: t = 2 fails, t = 3 passes. The same t = 2 is fine honest-but-curious.
        #expect(Self.failingField(Self.base(graph: .harary(degree: 4), threshold: 2, mode: .active)) == "threshold")
        #expect(Self.failingField(Self.base(graph: .harary(degree: 4), threshold: 3, mode: .active)) == nil)
        #expect(Self.failingField(Self.base(graph: .harary(degree: 4), threshold: 2)) == nil)
    }

    // With an odd Harary degree k, the Harary construction on an odd number of clients gives one client k + 1
    // neighbours (NeighborGraph.maximumDegree), and |U1| can be odd whatever n is. That client's shares are held by
    // k + 1 neighbours, so active mode needs 2t > k + 1; with 2t = k + 1 a malicious coordinator can collect t
    // shares of both its secrets (demonstrated end to end in SecAggProtocolTests, OddDegreeAttackTests).
    @Test(arguments: [(UInt32(3), UInt32(2)), (5, 3), (7, 4)])
    func activeModeCountsTheExtraHararyNeighbour(degree: UInt32, threshold: UInt32) {
        for invited: UInt32 in [9, 10] {
            let tooLow = Self.base(invited: invited, graph: .harary(degree: degree), threshold: threshold, mode: .active)
            #expect(Self.failingField(tooLow) == "threshold", "k = \(degree), t = \(threshold), n = \(invited)")
            let enough = Self.base(invited: invited, graph: .harary(degree: degree), threshold: threshold + 1, mode: .active)
            #expect(Self.failingField(enough) == nil, "k = \(degree), t = \(threshold + 1), n = \(invited)")
        }
    }

    // maximumNeighbourCount adds the extra Harary edge for odd degrees and is capped at n − 1.
    @Test func maximumNeighbourCount() {
        #expect(Self.base(invited: 10, graph: .harary(degree: 3)).maximumNeighbourCount == 4)
        #expect(Self.base(invited: 10, graph: .harary(degree: 4)).maximumNeighbourCount == 4)
        #expect(Self.base(invited: 5, graph: .harary(degree: 5)).maximumNeighbourCount == 4)
        #expect(Self.base(invited: 5, graph: .harary(degree: 3)).maximumNeighbourCount == 4)
        #expect(Self.base(invited: 10).maximumNeighbourCount == 9)
    }

    // The overflow check reports the exact inputs and a human-readable remedy.
    @Test func overflowDescription() {
        let parameters = Self.base(invited: 3, bits: 8, maximumInput: 86, threshold: 1)
        #expect(throws: ParameterValidationError.sumMayOverflow(invitedCount: 3, maximumInput: 86, bits: 8)) {
            try parameters.validate()
        }
        let text = ParameterValidationError.sumMayOverflow(invitedCount: 3, maximumInput: 86, bits: 8).description
        #expect(text.contains("2^8"))
    }

    // Regression (FuzzClient, 2026-12-03): an active-mode invitation with a Harary degree of 2^32 − 1 trapped on an
    // arithmetic overflow in maximumNeighbourCount; the degree is capped by the round's size first now.
    @Test("an odd degree of 2^32 − 1 is capped, not overflowed")
    func hugeOddDegree() {
        let parameters = Self.base(graph: .harary(degree: .max), threshold: 5, mode: .active)
        #expect(parameters.maximumNeighbourCount == 9)
        #expect(parameters.neighbourCount == 9)
        #expect(Self.failingField(parameters) == nil, "threshold 5 > 9/2 holds")
        #expect(Self.base(invited: 10, graph: .harary(degree: 3)).maximumNeighbourCount == 4)
    }
}
