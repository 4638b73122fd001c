#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks, before a round starts, that `bits` is large enough that the released sum cannot wrap around 2^bits.
///
/// The decoders lift each released lane to the signed range (−2^(bits−1), 2^(bits−1)] (``SignedModular``), so a
/// coordinate of the sum is recovered exactly when its magnitude stays below the capacity 2^(bits−1). The check
/// bounds that magnitude per coordinate by
///
///     R(n) = n·B + k·√((n·s)² + σ²)
///
/// where, per client and coordinate (in integer units, after scaling and rounding):
/// - `B` is a bound that always holds (``CoordinateBound/deterministic``),
/// - `s` is the scale of a sub-Gaussian part that adds up *coherently* across clients, so n clients contribute
///   at most n·s (``CoordinateBound/subgaussianScale``; with a randomized Hadamard rotation this is c/√D for the
///   rotated signal, because all clients share the same rotation),
/// - `σ` is the standard deviation of all the integer noise in the released sum (for distributed noise:
///   √(clients)·σ_local; for central noise: σ), a σ²-sub-Gaussian discrete Gaussian,
/// - `k` is the number of standard deviations to cover (≈ 4).
///
/// It requires `R(n) < 2^(bits−1)`. When a random part is present (`s > 0` or `σ > 0`), a coordinate can still
/// wrap, with probability at most 2·exp(−k²/2) by the sub-Gaussian tail bound (≤ 2·D·exp(−k²/2) that any of D
/// coordinates does, by a union bound); ``standardDeviations(forWrapProbability:dimension:)`` picks k for a target.
/// Without a random part the check is exact: the sum cannot wrap. This subsumes TFF's sanity rule
/// 2^(2·bits) ≥ n·k².
///
/// The functions are pure; the encoders' `checkBits` methods supply `B` and `s` and add an encoder-specific remedy
/// (a lower clip, narrower bounds) to the refusal.
public enum EncoderBitsCheck {
    /// What one client can contribute to one coordinate of the sum, in integer units.
    public struct CoordinateBound: Sendable, Equatable {
        /// `B`: a bound on |contribution| that always holds.
        public var deterministic: Double
        /// `s`: the scale of an additional sub-Gaussian part that adds coherently across clients (0 if none).
        public var subgaussianScale: Double

        /// A bound with a deterministic part `deterministic` and a sub-Gaussian part of scale `subgaussianScale`.
        public init(deterministic: Double, subgaussianScale: Double = 0) {
            self.deterministic = deterministic
            self.subgaussianScale = subgaussianScale
        }
    }

    /// The outcome of a successful check.
    public struct Report: Sendable, Equatable {
        /// The `bits` that was checked.
        public let bits: Int
        /// The fewest bits that suffice for the same clients, bound and noise (≤ ``bits``).
        public let requiredBits: Int
        /// `R(n)`: the bound on the magnitude of a coordinate of the released sum.
        public let sumBound: Double
        /// 2^(bits−1): the largest magnitude the signed lift recovers.
        public let capacity: Double
        /// An upper bound on the probability that one given coordinate wraps: 2·exp(−k²/2) if the bound has a
        /// random part, else 0.
        public let wrapProbabilityPerCoordinate: Double

        /// An upper bound on the probability that any of `dimension` coordinates wraps (union bound, capped at 1).
        public func wrapProbability(dimension: Int) -> Double {
            min(1, Double(max(dimension, 0)) * wrapProbabilityPerCoordinate)
        }
    }

    /// Why `bits` is too small and what to change; carried by ``EncodingError/insufficientBits(_:)``.
    public struct Shortfall: Sendable, Equatable, CustomStringConvertible {
        /// The `bits` that was refused.
        public let bits: Int
        /// The fewest bits that suffice, or nil if even 64 bits do not.
        public let requiredBits: Int?
        /// The number of clients that was checked.
        public let clients: Int
        /// The most clients that `bits` can hold with the same bound and noise (0 if not even one).
        public let maximumClients: Int
        /// `R(n)`, the bound on a coordinate of the sum.
        public let sumBound: Double
        /// 2^(bits−1).
        public let capacity: Double
        /// `k·σ`, the part of ``sumBound`` due to noise alone.
        public let noiseBound: Double
        /// An encoder-specific remedy, e.g. `"lower the clip to at most 0.25 (now 1)"`, if there is one.
        public let suggestion: String?

        /// The refusal message: the numbers, then every remedy that would work.
        public var description: String {
            var remedies: [String] = []
            if let requiredBits {
                remedies.append("raise bits to \(requiredBits)")
            } else {
                remedies.append("no bits ≤ 64 suffice")
            }
            if let suggestion { remedies.append(suggestion) }
            if maximumClients >= 1 && maximumClients < clients {
                remedies.append("admit at most \(maximumClients) clients")
            }
            if noiseBound >= capacity {
                remedies.append("lower the noise (k·σ = \(Self.format(noiseBound)) alone exceeds the capacity)")
            }
            let clientCount = clients == 1 ? "1 client" : "\(clients) clients"
            return "bits = \(bits) is too small: with \(clientCount) a coordinate of the released sum may "
                + "reach ±\(Self.format(sumBound)) (of which noise ±\(Self.format(noiseBound))), but \(bits) bits "
                + "hold only ±\(Self.format(capacity)) without wrapping. To fix: "
                + remedies.joined(separator: "; or ") + "."
        }

        static func format(_ value: Double) -> String {
            value.isFinite && value.magnitude < 1e15 && value == value.rounded()
                ? String(Int64(value)) : "\(value)"
        }
    }

    /// `R(n) = n·B + k·√((n·s)² + σ²)`, the bound on a coordinate of the sum of `clients` contributions plus noise.
    ///
    /// - Precondition: the arguments are non-negative and finite (``check(bits:clients:bound:noiseStandardDeviation:standardDeviations:suggestion:)``
    ///   validates them).
    public static func sumBound(
        clients: Int, bound: CoordinateBound, noiseStandardDeviation sigma: Double, standardDeviations k: Double
    ) -> Double {
        let n = Double(clients)
        let signal = n * bound.subgaussianScale
        return n * bound.deterministic + k * (signal * signal + sigma * sigma).squareRoot()
    }

    /// The number of standard deviations k for which `dimension` coordinates wrap with probability at most
    /// `probability`: k = √(2·ln(2·dimension/probability)).
    ///
    /// - Precondition: `0 < probability ≤ 1`, `dimension ≥ 1`.
    public static func standardDeviations(forWrapProbability probability: Double, dimension: Int) -> Double {
        precondition(probability > 0 && probability <= 1 && dimension >= 1, "invalid wrap probability or dimension")
        return (2 * log(2 * Double(dimension) / probability)).squareRoot()
    }

    /// Checks that `bits` holds the sum of `clients` contributions bounded by `bound`, plus noise of standard
    /// deviation `noiseStandardDeviation` covered to `standardDeviations` (k) standard deviations.
    ///
    /// - Parameter suggestion: an encoder-specific remedy to add to the refusal message.
    /// - Returns: the report when `R(n) < 2^(bits−1)`.
    /// - Throws: ``EncodingError/invalidParameter(name:reason:)`` for `bits` outside 1...64, `clients < 1`, or a
    ///   negative or non-finite bound, σ or k; ``EncodingError/insufficientBits(_:)`` with the fewest sufficient
    ///   bits and the most clients `bits` can hold when `R(n) ≥ 2^(bits−1)`.
    public static func check(
        bits: Int, clients: Int, bound: CoordinateBound, noiseStandardDeviation sigma: Double = 0,
        standardDeviations k: Double = 4, suggestion: String? = nil
    ) throws(EncodingError) -> Report {
        try SignedModular.checkBits(bits)
        guard clients >= 1 else {
            throw .invalidParameter(name: "clients", reason: "must be at least 1, got \(clients)")
        }
        for (name, value) in [
            ("coordinate bound", bound.deterministic), ("sub-Gaussian scale", bound.subgaussianScale),
            ("noise standard deviation", sigma), ("standard deviations k", k),
        ] where !(value.isFinite && value >= 0) {
            throw .invalidParameter(name: name, reason: "must be finite and non-negative, got \(value)")
        }
        let total = sumBound(clients: clients, bound: bound, noiseStandardDeviation: sigma, standardDeviations: k)
        let required = (1...64).first { total < Self.capacity(bits: $0) }
        let capacity = Self.capacity(bits: bits)
        guard total < capacity, let required else {
            throw .insufficientBits(
                Shortfall(
                    bits: bits, requiredBits: required, clients: clients,
                    maximumClients: maximumClients(
                        bits: bits, bound: bound, noiseStandardDeviation: sigma, standardDeviations: k),
                    sumBound: total, capacity: capacity, noiseBound: k * sigma, suggestion: suggestion))
        }
        let random = bound.subgaussianScale > 0 || sigma > 0
        return Report(
            bits: bits, requiredBits: required, sumBound: total, capacity: capacity,
            wrapProbabilityPerCoordinate: random ? min(1, 2 * exp(-k * k / 2)) : 0)
    }

    /// The largest n ≥ 0 with `R(n) < 2^(bits−1)` (searched up to 2^62).
    static func maximumClients(
        bits: Int, bound: CoordinateBound, noiseStandardDeviation sigma: Double, standardDeviations k: Double
    ) -> Int {
        let capacity = capacity(bits: bits)
        func fits(_ n: Int) -> Bool {
            sumBound(clients: n, bound: bound, noiseStandardDeviation: sigma, standardDeviations: k) < capacity
        }
        guard fits(1) else { return 0 }
        var low = 1  // fits
        var high = 2
        while fits(high) {
            low = high
            if high >= 1 << 62 { return high }
            high <<= 1
        }
        while high - low > 1 {  // low fits, high does not
            let middle = low + (high - low) / 2
            if fits(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// 2^(bits−1) as a Double (exact).
    static func capacity(bits: Int) -> Double {
        Double(sign: .plus, exponent: bits - 1, significand: 1)
    }
}
