#if canImport(Darwin)
    import Darwin
#elseif canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// What the corrupt parties (the coordinator and up to a fraction of the clients) may do.
public enum ThreatModel: Sendable, Equatable, Hashable {
    /// Corrupt parties follow the protocol and only pool what they see (Bell et al.'s semi-honest setting).
    case honestButCurious
    /// The coordinator may deviate (e.g. lie about who dropped out) together with corrupt clients; the protocol runs
    /// the signed consistency check (Bell et al.'s semi-malicious setting, Google's `SEMI_MALICIOUS_SERVER`).
    case active
}

/// A SecAgg+ configuration: the Harary-graph degree and the Shamir threshold.
public struct SecAggPlusParameters: Sendable, Equatable {
    /// k, each client's number of neighbours (n − 1 means the complete graph).
    public let degree: Int
    /// t, the shares needed to reconstruct a client's secrets, and the fewest surviving neighbours a client needs.
    public let threshold: Int

    /// Wraps a degree and threshold (for example read from configuration); no check is made here.
    public init(degree: Int, threshold: Int) {
        self.degree = degree
        self.threshold = threshold
    }

    /// The graph to build with these parameters.
    public var graphKind: NeighborGraph.Kind { .harary(degree: degree) }
}

/// Chooses SecAgg+ parameters (k, t) from the number of clients, the tolerated dropout and corruption rates and
/// the threat model, with a proven bound on the probability of a privacy break and of a failed round.
///
/// ## Model
/// n clients; at most A = ⌊α·n⌋ are corrupt and at most D = ⌊δ·n⌋ drop out (the rates are rounded up by a
/// relative 10^−12 first, so 0.29 · 100 counts as 29). Both sets are fixed before the graph's labelling is drawn
/// from public randomness nobody controls (the round's public coin); then, by symmetry of the uniform
/// permutation, a client's k neighbours are a uniform k-subset of the other n − 1 clients, and any k fixed ring
/// positions hold a uniform k-subset of all n clients. Only even k are searched: H(k, n) is then k-regular, the
/// connectivity argument below is tight, and the search matches Google's.
///
/// ## The three bad events, each bounded exactly and then by a union bound
/// 1. **Too many corrupt neighbours (privacy).** For an honest client u the number X_u of corrupt neighbours
///    follows Hypergeometric(N = n − 1, K = A, draws = k) (its tail grows with K, so A is the worst case).
///    Let c be the smallest integer with n · P[X ≥ c + 1] < 2^−(σ+1), the tail computed exactly in log space
///    (``Hypergeometric``). Then with probability ≥ 1 − 2^−(σ+1) every client has at most c corrupt neighbours.
///    Honest-but-curious needs t > c (corrupt neighbours alone must not hold t shares of an honest client's
///    secrets): t = c + 1. Active needs 2t > k + c as well (Bell et al.: an honest client reveals at most one of
///    its two shares for each neighbour, so a coordinator that lies about dropouts collects at most
///    (k − c) + 2c = k + c shares of the two secrets and must not reach t of each): t = ⌊(k + c)/2⌋ + 1.
///    In both cases t ≥ 2 (a one-share secret would be held in the clear).
/// 2. **The honest survivors' graph disconnects (privacy).** If it splits, the coordinator learns partial sums.
///    Removing a set R of ring positions from H(k, n) (k even; p ~ q iff their ring distance is ≤ k/2) leaves a
///    disconnected graph only if R contains two runs of k/2 consecutive positions that are separated on both
///    sides by kept positions: otherwise the kept positions, in ring order, are all joined through gaps shorter
///    than k/2, except at most one, and a cycle missing one link is still a path. There are n(n − k − 1)/2 such
///    pairs of runs, and k fixed positions are all among the B = A + D corrupt or dropped clients with probability
///    C(B, k)/C(n, k). So P[disconnected] ≤ n(n − k − 1)/2 · C(B, k)/C(n, k) (0 when k > B), required < 2^−(σ+1).
/// 3. **Too few surviving neighbours (failure).** Reconstructing a client's self-mask seed or mask key needs t
///    shares from its surviving neighbours. The number of dropped neighbours Z_u follows
///    Hypergeometric(n − 1, D, k); the round succeeds if every client keeps ≥ t, i.e. Z_u ≤ k − t for all u,
///    which fails with probability ≤ n · P[Z ≥ k − t + 1], required < 2^−φ.
/// Events 1 and 2 together break privacy with probability < 2^−σ; event 3 fails the round with probability < 2^−φ.
///
/// ## Search and fallback
/// k runs over 2, 4, … below n − 1; the first k passing all three checks is returned with its t (c is monotone in
/// k because a larger neighbour set stochastically dominates a smaller one, so each step costs a few tail
/// evaluations). If none passes, the complete graph (k = n − 1) is returned when its deterministic rule holds:
/// t = max(2, A + 1) (honest-but-curious) or t = max(2, ⌊(n + A)/2⌋ + 1) (active, the classic SecAgg rule
/// t > (n + corrupt)/2, which is ≥ the (k + c)/2 rule for k = n − 1), and t ≤ n − 1 − D so that every survivor keeps
/// t surviving neighbours. If even the complete graph is infeasible the search is skipped: the rates then leave
/// essentially no room (honest-but-curious: A + D ≥ n − 1, so on average every neighbour of a client is corrupt
/// or dropped; active: roughly A + 2D ≥ n), which also keeps the running time bounded for hopeless inputs.
///
/// ## Relation to Google's finder (fcp/secagg/server/graph_parameter_finder.cc)
/// The structure is the same (even k; σ + 1 bits per privacy event; quantiles of the corrupt and surviving
/// neighbour counts; the same disconnection bound; the same active-mode rule). Differences, all towards safety:
/// neighbours are drawn from the n − 1 other clients (Google uses N = n, slightly underestimating the corrupt
/// fraction among neighbours); t ≥ 2 is enforced before the survivor check (Google clamps afterwards, so for
/// n = 10 it can return t = 2 when only 1 surviving neighbour is guaranteed); tails are exact sums rather than
/// floating-point CDF differences; and small or infeasible-for-Harary instances fall back to the complete graph
/// instead of failing. For Google's published α = δ = 0.05 rows this yields exactly their values: honest-but-curious
/// n = 1,000 → (30, 17), 10,000 → (34, 20), 100,000 → (36, 21), 1,000,000 → (38, 22); active n = 1,000 → (52, 37).
/// Over all 78 feasible rows of Google's test table, 71 come out identical and 7 with a larger degree, never a
/// smaller one: the two n = 10 rows with δ = 0.33 (degree 6 instead of 4, the clamp above) and five rows where the
/// n − 1 population costs one or a few steps of k (e.g. n = 1,000, α = δ = 0.45: (824, 418) instead of (822, 417);
/// n = 10,000, α = δ = 0.3 active: (4828, 3234) instead of (4822, 3230)).
public enum ParameterFinder {
    /// Smallest even degree k (and its threshold t) of a randomly labelled Harary graph such that, for n clients
    /// with at most δ·n dropouts and α·n corrupt, the round fails with probability < 2^−failureBits and privacy is
    /// broken with probability < 2^−securityBits; the complete graph if no Harary graph qualifies. See the type's
    /// documentation for the derivation. Runs in time roughly proportional to the returned k.
    ///
    /// - Parameters:
    ///   - clientCount: n, the number of clients that advertise keys (at least 3).
    ///   - dropoutRate: δ in [0, 1), the largest fraction of clients that may drop out.
    ///   - corruptRate: α in [0, 1), the largest fraction of clients that may be corrupt.
    ///   - model: The threat model; ``ThreatModel/active`` needs a higher threshold and so a larger degree.
    ///   - securityBits: σ > 0; privacy fails with probability < 2^−σ.
    ///   - failureBits: φ > 0; the round fails with probability < 2^−φ.
    /// - Throws: ``ParameterError/invalidRate(_:)`` for a rate outside [0, 1) or non-positive or non-finite bits;
    ///   ``ParameterError/tooFewClients(_:)`` for fewer than 3 clients;
    ///   ``ParameterError/noFeasibleParameters(clientCount:)`` when even the complete graph cannot meet the rates
    ///   (e.g. α + δ ≥ 1 honest-but-curious, α + 2δ ≥ 1 active).
    public static func find(
        clientCount: Int, dropoutRate: Double, corruptRate: Double, model: ThreatModel, securityBits: Double = 40,
        failureBits: Double = 20
    ) throws(ParameterError) -> SecAggPlusParameters {
        try checkRate(dropoutRate, name: "dropoutRate")
        try checkRate(corruptRate, name: "corruptRate")
        try checkBits(securityBits, name: "securityBits")
        try checkBits(failureBits, name: "failureBits")
        guard clientCount >= minimumClientCount else { throw .tooFewClients(clientCount) }

        let n = clientCount
        let corrupt = maximumCount(rate: corruptRate, of: n)
        let dropped = maximumCount(rate: dropoutRate, of: n)
        guard let complete = completeGraphParameters(clientCount: n, corrupt: corrupt, dropped: dropped, model: model)
        else { throw .noFeasibleParameters(clientCount: n) }

        // Per-event privacy budget 2^-(σ+1); per-client budgets after the union bound over n clients.
        let logSecurityPerEvent = -(securityBits + 1) * logTwo
        let logSecurityPerClient = logSecurityPerEvent - log(Double(n))
        let logFailurePerClient = -failureBits * logTwo - log(Double(n))
        let unavailable = min(n, corrupt + dropped)
        var corruptNeighborBound = 0  // c; nondecreasing in k
        for degree in stride(from: 2, to: n - 1, by: 2) {
            let logDisconnection = logDisconnectionBound(clientCount: n, unavailable: unavailable, degree: degree)
            guard logDisconnection < logSecurityPerEvent else { continue }

            let corruptNeighbors = Hypergeometric(population: n - 1, marked: corrupt, draws: degree)
            while corruptNeighbors.logUpperTail(from: corruptNeighborBound + 1) >= logSecurityPerClient {
                corruptNeighborBound += 1
            }
            let threshold = Self.threshold(degree: degree, corruptNeighbors: corruptNeighborBound, model: model)
            guard threshold <= degree else { continue }

            let droppedNeighbors = Hypergeometric(population: n - 1, marked: dropped, draws: degree)
            guard droppedNeighbors.logUpperTail(from: degree - threshold + 1) < logFailurePerClient else { continue }
            return SecAggPlusParameters(degree: degree, threshold: threshold)
        }
        return complete
    }

    /// The smallest client count ``find(clientCount:dropoutRate:corruptRate:model:securityBits:failureBits:)``
    /// accepts: with fewer, no threshold of at least 2 leaves room for a dropout, and a sum of two inputs reveals
    /// each to the other anyway.
    public static let minimumClientCount = 3

    // MARK: - Internals

    /// ln 2.
    private static let logTwo = 0.693_147_180_559_945_309_42

    /// Throws unless `rate` is finite and in [0, 1).
    private static func checkRate(_ rate: Double, name: String) throws(ParameterError) {
        guard rate.isFinite, rate >= 0, rate < 1 else { throw .invalidRate("\(name) must be in [0, 1), got \(rate)") }
    }

    /// Throws unless `bits` is finite and positive.
    private static func checkBits(_ bits: Double, name: String) throws(ParameterError) {
        guard bits.isFinite, bits > 0 else { throw .invalidRate("\(name) must be positive and finite, got \(bits)") }
    }

    /// ⌊rate · n⌋ after a relative 10^−12 round-up that absorbs representation error (0.29 · 100 = 28.999…).
    static func maximumCount(rate: Double, of n: Int) -> Int {
        min(n, Int((rate * Double(n) * (1 + 1e-12)).rounded(.down)))
    }

    /// The threshold rule for a degree-k graph with at most c corrupt neighbours per client.
    static func threshold(degree: Int, corruptNeighbors: Int, model: ThreatModel) -> Int {
        switch model {
        case .honestButCurious: max(2, corruptNeighbors + 1)
        case .active: max(2, (degree + corruptNeighbors) / 2 + 1)
        }
    }

    /// The complete-graph parameters, or nil if the threshold rule leaves a survivor short of neighbours.
    static func completeGraphParameters(
        clientCount n: Int, corrupt: Int, dropped: Int, model: ThreatModel
    ) -> SecAggPlusParameters? {
        let threshold =
            switch model {
            case .honestButCurious: max(2, corrupt + 1)
            case .active: max(2, (n + corrupt) / 2 + 1)
            }
        guard threshold <= n - 1 - dropped else { return nil }
        return SecAggPlusParameters(degree: n - 1, threshold: threshold)
    }

    /// ln of the union bound n(n − k − 1)/2 · C(B, k)/C(n, k) on the probability that removing B uniformly placed
    /// clients disconnects a Harary graph H(k, n) with even k < n − 1; −∞ when B < k.
    static func logDisconnectionBound(clientCount n: Int, unavailable: Int, degree k: Int) -> Double {
        guard k <= unavailable else { return -.infinity }
        return log(Double(n)) + log(Double(n - k - 1)) - logTwo + LogFactorial.binomial(unavailable, k)
            - LogFactorial.binomial(n, k)
    }
}

/// Why ``ParameterFinder`` could not choose parameters.
public enum ParameterError: Error, Equatable, Sendable {
    /// A rate outside [0, 1), or security/failure bits that are not positive and finite; the text names which.
    case invalidRate(String)
    /// Fewer clients than ``ParameterFinder/minimumClientCount``.
    case tooFewClients(Int)
    /// Not even the complete graph meets the rates for this many clients.
    case noFeasibleParameters(clientCount: Int)
}
