#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// ln(m!) for m ≥ 0: a table of exact partial sums below 1024, Stirling's series (through the m^−7 term, error
/// below 10^−24) above. Deterministic and thread-safe, unlike `lgamma`, which writes the global `signgam`.
enum LogFactorial {
    /// ln(m!) for m in 0..<1024.
    private static let table: [Double] = {
        var values = [Double](repeating: 0, count: 1024)
        for m in 1..<values.count { values[m] = values[m - 1] + log(Double(m)) }
        return values
    }()

    /// ½ ln(2π).
    private static let halfLogTwoPi = 0.918_938_533_204_672_741_78

    /// ln(m!).
    ///
    /// - Precondition: `m >= 0`.
    static func of(_ m: Int) -> Double {
        precondition(m >= 0, "LogFactorial: negative argument")
        if m < table.count { return table[m] }
        let x = Double(m)
        let reciprocal = 1 / x
        let reciprocalSquared = reciprocal * reciprocal
        let series =
            reciprocal
            * (1.0 / 12 - reciprocalSquared * (1.0 / 360 - reciprocalSquared * (1.0 / 1260 - reciprocalSquared / 1680)))
        return (x + 0.5) * log(x) - x + halfLogTwoPi + series
    }

    /// ln C(n, k), or −∞ when k is outside 0...n.
    ///
    /// When min(k, n − k) ≤ 64 the value is Σ ln(n − i) − ln(k!) directly, avoiding the cancellation between two
    /// large ln-factorials (about 10^−9 absolute at n = 10^6); otherwise the factorial difference is used.
    static func binomial(_ n: Int, _ k: Int) -> Double {
        guard k >= 0, k <= n else { return -.infinity }
        let smaller = min(k, n - k)
        guard smaller > 64 else {
            var sum = 0.0
            for index in 0..<smaller { sum += log(Double(n - index)) }
            return sum - of(smaller)
        }
        return of(n) - of(k) - of(n - k)
    }
}

/// The hypergeometric distribution: the number X of marked items among `draws` items drawn without replacement
/// from `population` items of which `marked` are marked.
///
/// In SecAgg+ it is the law of how many of a client's k neighbours are corrupt (or dropped): under a uniformly
/// random labelling of the Harary graph, a client's neighbour set is a uniform k-subset of the other n − 1 clients.
struct Hypergeometric {
    /// N, the number of items.
    let population: Int
    /// K, the number of marked items.
    let marked: Int
    /// m, the number of items drawn.
    let draws: Int

    /// Creates the distribution.
    ///
    /// - Precondition: 0 ≤ marked ≤ population and 0 ≤ draws ≤ population.
    init(population: Int, marked: Int, draws: Int) {
        precondition(marked >= 0 && marked <= population && draws >= 0 && draws <= population)
        self.population = population
        self.marked = marked
        self.draws = draws
    }

    /// The smallest value with nonzero probability.
    var minimum: Int { max(0, draws - (population - marked)) }

    /// The largest value with nonzero probability.
    var maximum: Int { min(draws, marked) }

    /// ln P[X = x] = ln C(K, x) + ln C(N − K, m − x) − ln C(N, m); −∞ outside the support.
    func logProbability(of x: Int) -> Double {
        guard x >= minimum, x <= maximum else { return -.infinity }
        return LogFactorial.binomial(marked, x) + LogFactorial.binomial(population - marked, draws - x)
            - LogFactorial.binomial(population, draws)
    }

    /// P[X = x + 1] / P[X = x] for x in minimum..<maximum. The distribution is log-concave, so this ratio
    /// decreases in x; past the mode it is below 1.
    func ratio(at x: Int) -> Double {
        let numerator = Double(marked - x) * Double(draws - x)
        let denominator = Double(x + 1) * Double(population - marked - draws + x + 1)
        return numerator / denominator
    }

    /// An upper bound on ln P[X ≥ t], equal to it up to rounding whenever t is past the mode.
    ///
    /// Past the mode the terms P[X = x], x ≥ t, are summed relative to P[X = t] (no underflow however small the
    /// tail) until they fall below 2^−60 of the sum or 4,096 terms have been added; the rest is bounded by the
    /// geometric series with the last ratio, which log-concavity makes an upper bound. At or before the mode the
    /// tail is at least P[X = mode] ≥ 1/(m + 1), and 0 (= ln 1) is returned: a bound, never an underestimate.
    func logUpperTail(from t: Int) -> Double {
        if t <= minimum { return 0 }
        if t > maximum { return -.infinity }
        guard t == maximum || ratio(at: t) < 1 else { return 0 }
        var sum = 1.0
        var term = 1.0
        var x = t
        while x < maximum {
            let step = ratio(at: x)
            term *= step
            x += 1
            sum += term
            if term < sum * 0x1p-60 || x - t >= 4096 {
                if x < maximum {
                    let next = ratio(at: x)
                    sum += term * next / (1 - next)
                }
                break
            }
        }
        return logProbability(of: t) + log(sum)
    }
}
