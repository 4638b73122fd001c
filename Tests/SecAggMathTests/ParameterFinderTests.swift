import Foundation
import Testing

@testable import SecAggMath

@Suite struct ParameterFinderTests {
    /// Google's published expectations (fcp/secagg/server/graph_parameter_finder_test.cc), α = δ = 0.05.
    @Test(arguments: [
        (1_000, ThreatModel.honestButCurious, 30, 17),
        (10_000, ThreatModel.honestButCurious, 34, 20),
        (1_000_000, ThreatModel.honestButCurious, 38, 22),
        (1_000, ThreatModel.active, 52, 37),
    ])
    func matchesGooglesPublishedTable(clientCount: Int, model: ThreatModel, degree: Int, threshold: Int) throws {
        let found = try ParameterFinder.find(
            clientCount: clientCount, dropoutRate: 0.05, corruptRate: 0.05, model: model)
        // At least as safe, and (here) exactly equal.
        #expect(found.degree >= degree)
        #expect(found == SecAggPlusParameters(degree: degree, threshold: threshold))
    }

    /// More rows of the same table, computed by the same derivation (some differ from Google's by the n − 1
    /// population; see ParameterFinder's documentation).
    @Test(arguments: [
        (100, 0.05, 0.05, ThreatModel.honestButCurious, 12, 6),
        (100_000, 0.05, 0.05, ThreatModel.honestButCurious, 36, 21),
        (100, 0.05, 0.05, ThreatModel.active, 16, 11),
        (10_000, 0.05, 0.05, ThreatModel.active, 62, 44),
        (1_000, 0.33, 0.05, ThreatModel.honestButCurious, 78, 60),
        (1_000, 0.05, 0.33, ThreatModel.honestButCurious, 72, 24),
        (1_000, 0.05, 0.33, ThreatModel.active, 398, 223),
        (1_000, 0.33, 0.33, ThreatModel.honestButCurious, 286, 150),
        (1_000, 0.0, 0.0, ThreatModel.honestButCurious, 2, 2),
    ])
    func matchesGoogleElsewhere(
        clientCount: Int, corruptRate: Double, dropoutRate: Double, model: ThreatModel, degree: Int, threshold: Int
    ) throws {
        let found = try ParameterFinder.find(
            clientCount: clientCount, dropoutRate: dropoutRate, corruptRate: corruptRate, model: model)
        #expect(found == SecAggPlusParameters(degree: degree, threshold: threshold))
    }

    @Test func isAtLeastAsSafeWhereGoogleClampsLate() throws {
        // Google returns (4, 2) for n = 10, α = 0.05, δ = 0.33, although with 3 dropouts a degree-4 client may keep
        // a single surviving neighbour. We require t surviving neighbours and so need a larger degree.
        let found = try ParameterFinder.find(
            clientCount: 10, dropoutRate: 0.33, corruptRate: 0.05, model: .honestButCurious)
        #expect(found.degree > 4)
        #expect(found.threshold >= 2)
    }

    @Test func rejectsInvalidRatesAndBits() {
        for rate in [-0.01, 1.0, 1.5, .nan, .infinity] {
            #expect(throws: ParameterError.self) {
                try ParameterFinder.find(clientCount: 100, dropoutRate: rate, corruptRate: 0.1, model: .active)
            }
            #expect(throws: ParameterError.self) {
                try ParameterFinder.find(
                    clientCount: 100, dropoutRate: 0.1, corruptRate: rate, model: .honestButCurious)
            }
        }
        #expect(throws: ParameterError.invalidRate("dropoutRate must be in [0, 1), got 1.0")) {
            try ParameterFinder.find(clientCount: 100, dropoutRate: 1, corruptRate: 0, model: .active)
        }
        for bits in [0.0, -3, .nan] {
            #expect(throws: ParameterError.self) {
                try ParameterFinder.find(
                    clientCount: 100, dropoutRate: 0.1, corruptRate: 0.1, model: .active, securityBits: bits)
            }
            #expect(throws: ParameterError.self) {
                try ParameterFinder.find(
                    clientCount: 100, dropoutRate: 0.1, corruptRate: 0.1, model: .active, failureBits: bits)
            }
        }
    }

    @Test func rejectsTooFewClientsAndHopelessRates() {
        for count in [-1, 0, 1, 2] {
            #expect(throws: ParameterError.tooFewClients(count)) {
                try ParameterFinder.find(clientCount: count, dropoutRate: 0, corruptRate: 0, model: .honestButCurious)
            }
        }
        #expect(throws: ParameterError.noFeasibleParameters(clientCount: 1_000)) {
            try ParameterFinder.find(clientCount: 1_000, dropoutRate: 0.5, corruptRate: 0.5, model: .honestButCurious)
        }
        #expect(throws: ParameterError.noFeasibleParameters(clientCount: 1_000)) {
            try ParameterFinder.find(clientCount: 1_000, dropoutRate: 0.4, corruptRate: 0.3, model: .active)
        }
        #expect(throws: ParameterError.noFeasibleParameters(clientCount: 5)) {
            try ParameterFinder.find(clientCount: 5, dropoutRate: 0.2, corruptRate: 0.2, model: .active)
        }
    }

    @Test func tinyGroupsFallBackToTheCompleteGraph() throws {
        #expect(
            try ParameterFinder.find(clientCount: 3, dropoutRate: 0, corruptRate: 0, model: .honestButCurious)
                == SecAggPlusParameters(degree: 2, threshold: 2))
        #expect(
            try ParameterFinder.find(clientCount: 3, dropoutRate: 0, corruptRate: 0, model: .active)
                == SecAggPlusParameters(degree: 2, threshold: 2))
        #expect(
            try ParameterFinder.find(clientCount: 4, dropoutRate: 0.25, corruptRate: 0, model: .honestButCurious)
                == SecAggPlusParameters(degree: 3, threshold: 2))
        // n = 5 with one corrupt and one dropped client: honest-but-curious needs t > 1, t ≤ 5 − 1 − 1.
        #expect(
            try ParameterFinder.find(clientCount: 5, dropoutRate: 0.2, corruptRate: 0.2, model: .honestButCurious)
                == SecAggPlusParameters(degree: 4, threshold: 2))
        // Whenever the complete graph comes back, its threshold follows the complete-graph rule.
        for count in 3...24 {
            for (corrupt, dropped) in [(0.1, 0.1), (0.2, 0.0), (0.0, 0.3), (0.25, 0.25)] {
                for model in [ThreatModel.honestButCurious, .active] {
                    guard
                        let found = try? ParameterFinder.find(
                            clientCount: count, dropoutRate: dropped, corruptRate: corrupt, model: model)
                    else { continue }
                    let a = ParameterFinder.maximumCount(rate: corrupt, of: count)
                    let d = ParameterFinder.maximumCount(rate: dropped, of: count)
                    #expect(found.threshold <= found.degree)
                    #expect(found.degree <= count - 1)
                    if found.degree == count - 1 {
                        let rule = model == .honestButCurious ? max(2, a + 1) : max(2, (count + a) / 2 + 1)
                        #expect(found.threshold == rule)
                        #expect(found.threshold <= count - 1 - d)
                    } else {
                        #expect(found.degree % 2 == 0)
                    }
                }
            }
        }
    }

    @Test func resultsSatisfyTheirOwnBounds() throws {
        let logTwo = 0.693_147_180_559_945_3
        for (count, corrupt, dropped) in [(500, 0.1, 0.2), (5_000, 0.2, 0.1), (50_000, 0.05, 0.1)] {
            for model in [ThreatModel.honestButCurious, .active] {
                let found = try ParameterFinder.find(
                    clientCount: count, dropoutRate: dropped, corruptRate: corrupt, model: model)
                let k = found.degree
                let a = ParameterFinder.maximumCount(rate: corrupt, of: count)
                let d = ParameterFinder.maximumCount(rate: dropped, of: count)
                let logN = log(Double(count))
                // Privacy: the corrupt-neighbour bound implied by t, and connectivity.
                let impliedCorrupt =
                    model == .honestButCurious ? found.threshold - 1 : 2 * found.threshold - k - 1
                let corruptTail = Hypergeometric(population: count - 1, marked: a, draws: k)
                    .logUpperTail(from: impliedCorrupt + 1)
                #expect(logN + corruptTail < -41 * logTwo)
                #expect(
                    ParameterFinder.logDisconnectionBound(clientCount: count, unavailable: a + d, degree: k) < -41
                        * logTwo)
                // Correctness.
                let droppedTail = Hypergeometric(population: count - 1, marked: d, draws: k)
                    .logUpperTail(from: k - found.threshold + 1)
                #expect(logN + droppedTail < -20 * logTwo)
                // Minimality: the next smaller even degree fails some check.
                if k > 2 {
                    let smaller = k - 2
                    let smallerCorrupt = Hypergeometric(population: count - 1, marked: a, draws: smaller)
                    var c = 0
                    while logN + smallerCorrupt.logUpperTail(from: c + 1) >= -41 * logTwo { c += 1 }
                    let t = ParameterFinder.threshold(degree: smaller, corruptNeighbors: c, model: model)
                    let disconnects =
                        ParameterFinder.logDisconnectionBound(clientCount: count, unavailable: a + d, degree: smaller)
                        >= -41 * logTwo
                    let fails =
                        t > smaller
                        || logN
                            + Hypergeometric(population: count - 1, marked: d, draws: smaller)
                            .logUpperTail(from: smaller - t + 1) >= -20 * logTwo
                    #expect(disconnects || fails)
                }
            }
        }
    }

    @Test func graphKindMatchesDegree() throws {
        let found = try ParameterFinder.find(clientCount: 1_000, dropoutRate: 0.05, corruptRate: 0.05, model: .active)
        #expect(found.graphKind == .harary(degree: 52))
    }

    // MARK: Numerical building blocks

    @Test func logFactorialIsAccurateAcrossTheTableBoundary() {
        var exact = 0.0
        for m in 1...5_000 {
            exact += log(Double(m))
            if m >= 1_000 && m % 7 == 0 || m == 1_023 || m == 1_024 {
                #expect(abs(LogFactorial.of(m) - exact) <= 1e-9 * exact)
            }
        }
        #expect(LogFactorial.of(0) == 0)
        #expect(LogFactorial.binomial(5, 6) == -.infinity)
        #expect(abs(LogFactorial.binomial(10, 3) - log(120)) < 1e-12)
    }

    @Test func hypergeometricTailMatchesDirectSummation() {
        let cases = [(999, 50, 30), (99, 33, 68), (9_999, 3_300, 422), (999_999, 50_000, 38), (9, 3, 8)]
        for (population, marked, draws) in cases {
            let distribution = Hypergeometric(population: population, marked: marked, draws: draws)
            let total = (distribution.minimum...distribution.maximum).reduce(0.0) {
                $0 + exp(distribution.logProbability(of: $1))
            }
            #expect(abs(total - 1) < 1e-9)
            let mean = Double(marked) * Double(draws) / Double(population)
            for t in Int(mean.rounded(.up))...(distribution.maximum + 1) {
                let direct = (t...max(t, distribution.maximum)).reduce(0.0) {
                    $0 + exp(distribution.logProbability(of: $1))
                }
                let tail = exp(distribution.logUpperTail(from: t))
                // Never below the true tail; equal to it up to rounding.
                #expect(tail >= direct * (1 - 1e-9))
                if direct > 1e-290 { #expect(tail <= direct * (1 + 1e-9) || tail == 1) }
            }
        }
    }
}
