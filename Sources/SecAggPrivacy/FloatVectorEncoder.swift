#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SecAggCrypto

/// Encodes real vectors (model updates) into Z_{2^bits} lanes for secure aggregation, and decodes the released sum;
/// the discretization of the distributed discrete Gaussian mechanism (Kairouz, Liu, Steinke, ICML 2021,
/// Algorithm 1; TFF's `DistributedDpSumFactory`).
///
/// Why: secure aggregation sums integers modulo 2^bits and discrete Gaussian noise is integer, so a real vector
/// must become a short integer vector whose L2 norm is bounded (the sensitivity Δ₂ the accountant needs), whose
/// rounding is unbiased, and whose sum over the clients does not wrap.
///
/// Client side, ``encode(_:rotationSeed:using:)`` (d = ``dimension``, D = ``encodedDimension``, c = C/γ):
/// 1. **Clip**: if ‖x‖₂ > C, x ← x · C/‖x‖₂ (``clipped(_:)``).
/// 2. **Rotate** (if ``rotation``): x ← H_D·diag(s)·pad_D(x) with signs from the public 32-byte seed
///    (``RandomizedHadamard``). Without rotation D = d.
/// 3. **Scale**: y_i = x_i / γ.
/// 4. **Conditional randomized rounding** (``conditionallyRound(_:squaredNormBound:using:)``): z_i = ⌊y_i⌋ + 1
///    with probability y_i − ⌊y_i⌋, else ⌊y_i⌋; the whole vector is redrawn until Σ z_i² ≤ Δ₂² (exact integer
///    comparison), where Δ₂² = ``squaredL2SensitivityBound``.
/// 5. **Wrap**: lane_i = z_i mod 2^bits (``SignedModular/wrap(_:bits:)``).
///
/// Integer noise, if any, is added to z (or, equivalently, to the lanes modulo 2^bits) between steps 4 and 5;
/// ``quantize(_:rotationSeed:using:)`` returns z for that purpose.
///
/// Coordinator side, ``decodeSum(_:rotationSeed:)``: lift each released lane to (−2^(bits−1), 2^(bits−1)]
/// (``SignedModular/lift(_:bits:)``), multiply by γ, apply the inverse rotation (dropping the padding), and for a
/// mean divide by the number of survivors (``decodeMean(_:survivors:rotationSeed:)``).
///
/// Before a round, ``checkBits(clients:noiseStandardDeviation:standardDeviations:)`` must confirm that `bits`
/// holds the sum; ``encode(_:rotationSeed:using:)`` does not check it.
public struct FloatVectorEncoder: Sendable, Equatable {
    /// The rounding bias β that KLS21 recommend: e^(−1/2).
    public static let defaultRoundingBias = exp(-0.5)

    /// How many times conditional rounding redraws before giving up (each try fails with probability ≤ β).
    public static let maximumRoundingAttempts = 1000

    /// d, the length of the input vectors.
    public let dimension: Int

    /// C, the L2 clipping norm (in input units).
    public let clip: Double

    /// γ, the rounding granularity (in input units): one integer step in the encoding is worth γ.
    public let granularity: Double

    /// The modulus exponent: lanes are integers modulo 2^bits.
    public let bits: Int

    /// Whether the randomized Hadamard rotation is applied.
    public let rotation: Bool

    /// β ∈ [0, 1), the conditional rounding bias: β = 0 is plain (unbiased) randomized rounding with the
    /// deterministic bound Δ₂ = c + √D; a larger β gives a tighter Δ₂ at the price of a little bias.
    public let roundingBias: Double

    /// D, the number of lanes per client: the padded power of two if ``rotation``, else ``dimension``.
    public let encodedDimension: Int

    /// Δ₂², the bound on Σ z_i² of the rounded integer vector (integer units):
    /// min((c + √D)², c² + D/4 + √(2·ln(1/β))·(c + √D/2)) with c = C/γ (the second term only when β > 0).
    public let squaredL2SensitivityBound: Double

    /// Creates an encoder.
    ///
    /// - Parameters:
    ///   - dimension: d, the input length (1...2^30).
    ///   - clip: C > 0, the L2 clipping norm.
    ///   - granularity: γ > 0, the value of one integer step.
    ///   - bits: the modulus exponent, 1...64.
    ///   - rotation: whether to apply the randomized Hadamard rotation (recommended for d > 1: fewer bits).
    ///   - roundingBias: β ∈ [0, 1) for conditional rounding; defaults to e^(−1/2).
    /// - Throws: ``EncodingError/invalidParameter(name:reason:)`` for a parameter outside its domain, or when
    ///   C/γ is so large that Δ₂ ≥ 2^62 (the integers would not fit in 64 bits).
    public init(
        dimension: Int, clip: Double, granularity: Double, bits: Int, rotation: Bool = true,
        roundingBias: Double = FloatVectorEncoder.defaultRoundingBias
    ) throws(EncodingError) {
        guard dimension >= 1, dimension <= RandomizedHadamard.maximumDimension else {
            throw .invalidParameter(
                name: "dimension", reason: "must be in 1...\(RandomizedHadamard.maximumDimension), got \(dimension)")
        }
        guard clip.isFinite, clip > 0 else {
            throw .invalidParameter(name: "clip", reason: "must be finite and positive, got \(clip)")
        }
        guard granularity.isFinite, granularity > 0 else {
            throw .invalidParameter(name: "granularity", reason: "must be finite and positive, got \(granularity)")
        }
        try SignedModular.checkBits(bits)
        guard roundingBias.isFinite, roundingBias >= 0, roundingBias < 1 else {
            throw .invalidParameter(name: "roundingBias", reason: "must be in [0, 1), got \(roundingBias)")
        }
        let encodedDimension = rotation ? RandomizedHadamard.paddedDimension(for: dimension) : dimension
        let squaredBound = Self.squaredNormBound(
            clip: clip, granularity: granularity, dimension: encodedDimension, roundingBias: roundingBias)
        guard squaredBound.isFinite, squaredBound < 0x1p124 else {
            throw .invalidParameter(
                name: "granularity",
                reason: "clip/granularity = \(clip / granularity) is too large: the rounded integers would not fit "
                    + "in 64 bits; raise the granularity")
        }
        self.dimension = dimension
        self.clip = clip
        self.granularity = granularity
        self.bits = bits
        self.rotation = rotation
        self.roundingBias = roundingBias
        self.encodedDimension = encodedDimension
        squaredL2SensitivityBound = squaredBound
    }

    /// Δ₂², the KLS21 norm bound after conditional randomized rounding of a vector of norm ≤ C to the grid γℤ,
    /// in integer units: with c = C/γ and D coordinates,
    ///
    ///     Δ₂² = min( (c + √D)², c² + D/4 + √(2·ln(1/β))·(c + √D/2) )
    ///
    /// The first term always holds (each coordinate moves by less than 1); the second holds for an unconditional
    /// rounding with probability ≥ 1 − β, which is why conditional rounding redraws at most 1/(1 − β) times on
    /// average. For β = 0 only the first term applies.
    public static func squaredNormBound(
        clip: Double, granularity: Double, dimension: Int, roundingBias beta: Double
    ) -> Double {
        let c = clip / granularity
        let rootD = Double(dimension).squareRoot()
        let deterministic = (c + rootD) * (c + rootD)
        guard beta > 0 else { return deterministic }
        let probabilistic = c * c + Double(dimension) / 4 + (2 * log(1 / beta)).squareRoot() * (c + rootD / 2)
        return min(deterministic, probabilistic)
    }

    /// Δ₂, the L2 sensitivity of one client's encoded (integer) contribution, for the accountant: every rounded
    /// vector z satisfies ‖z‖₂ ≤ Δ₂, so adding or removing one client moves the integer sum by at most Δ₂ (replacing
    /// one by at most 2·Δ₂). Rounded up so that Δ₂² ≥ ``squaredL2SensitivityBound``.
    public var l2SensitivityBound: Double {
        let root = squaredL2SensitivityBound.squareRoot()
        return root * root < squaredL2SensitivityBound ? root.nextUp : root
    }

    /// What one client contributes to one coordinate of the sum, for ``EncoderBitsCheck``: with rotation, a
    /// rounding part below 1 plus the rotated signal, sub-Gaussian with scale c/√D and coherent across clients
    /// (they share the signs); without rotation, the worst case ``worstCaseCoordinateBound``.
    public var coordinateBound: EncoderBitsCheck.CoordinateBound {
        guard rotation else { return worstCaseCoordinateBound }
        return rotatedBound(clip: clip)
    }

    /// The bound that holds whatever the rotation: |z_i| ≤ ‖z‖₂ ≤ Δ₂, so ⌊Δ₂⌋ (z is an integer).
    public var worstCaseCoordinateBound: EncoderBitsCheck.CoordinateBound {
        .init(deterministic: squaredL2SensitivityBound.squareRoot().rounded(.down))
    }

    /// Checks that `bits` holds the sum of `clients` encoded vectors plus noise, and refuses otherwise with the
    /// fewest sufficient bits, the largest clip that would fit, and the most clients that would fit.
    ///
    /// Of ``coordinateBound`` and ``worstCaseCoordinateBound`` the one giving the smaller sum bound is used.
    ///
    /// - Parameters:
    ///   - clients: the most clients whose vectors can be summed (n).
    ///   - noiseStandardDeviation: σ of all the integer noise in the released sum, in integer units (0 if none).
    ///   - standardDeviations: k, how many standard deviations of the random parts to cover.
    /// - Throws: ``EncodingError/insufficientBits(_:)`` with the remedy, or
    ///   ``EncodingError/invalidParameter(name:reason:)`` for invalid arguments.
    public func checkBits(
        clients: Int, noiseStandardDeviation: Double = 0, standardDeviations: Double = 4
    ) throws(EncodingError) -> EncoderBitsCheck.Report {
        let bound = bestBound(
            clip: clip, clients: clients, noiseStandardDeviation: noiseStandardDeviation, k: standardDeviations)
        let total = EncoderBitsCheck.sumBound(
            clients: clients, bound: bound, noiseStandardDeviation: noiseStandardDeviation,
            standardDeviations: standardDeviations)
        var suggestion: String?
        if clients >= 1, total.isFinite, !(total < EncoderBitsCheck.capacity(bits: bits)) {
            suggestion = clipSuggestion(
                clients: clients, noiseStandardDeviation: noiseStandardDeviation, k: standardDeviations)
        }
        return try EncoderBitsCheck.check(
            bits: bits, clients: clients, bound: bound, noiseStandardDeviation: noiseStandardDeviation,
            standardDeviations: standardDeviations, suggestion: suggestion)
    }

    /// Step 1: `values` scaled down to L2 norm C if their norm exceeds C, else unchanged.
    ///
    /// The norm is computed as m·√(Σ (x_i/m)²) with m = max |x_i|, so that large values do not overflow.
    ///
    /// - Throws: ``EncodingError/dimensionMismatch(expected:actual:)`` unless `values.count == dimension`;
    ///   ``EncodingError/nonFiniteValue(index:)`` for the first NaN or infinite value.
    public func clipped(_ values: [Double]) throws(EncodingError) -> [Double] {
        guard values.count == dimension else { throw .dimensionMismatch(expected: dimension, actual: values.count) }
        var largest = 0.0
        for (index, value) in values.enumerated() {
            guard value.isFinite else { throw .nonFiniteValue(index: index) }
            largest = max(largest, value.magnitude)
        }
        guard largest > 0 else { return values }
        var sum = 0.0
        for value in values {
            let ratio = value / largest
            sum += ratio * ratio
        }
        let norm = largest * sum.squareRoot()
        guard norm > clip else { return values }
        let factor = clip / norm
        return values.map { $0 * factor }
    }

    /// Steps 1–4: the rounded integer vector z (D = ``encodedDimension`` coordinates), to which integer noise may
    /// be added before wrapping.
    ///
    /// Randomness: the rotation signs come from `rotationSeed` only; the rounding draws D little-endian 64-bit
    /// words from `random` per attempt (see ``conditionallyRound(_:squaredNormBound:using:)``) and nothing else.
    ///
    /// - Parameters:
    ///   - rotationSeed: the round's public 32-byte rotation seed; required when ``rotation`` is on, ignored
    ///     otherwise.
    ///   - random: the rounding randomness (production: ``SystemRandom``).
    /// - Throws: the errors of ``clipped(_:)``; ``EncodingError/missingRotationSeed`` or
    ///   ``EncodingError/invalidRotationSeed(length:)``; ``EncodingError/roundingDidNotConverge(attempts:)``.
    public func quantize(
        _ values: [Double], rotationSeed: [UInt8]? = nil, using random: inout some RandomSource
    ) throws(EncodingError) -> [Int64] {
        var vector = try clipped(values)
        if rotation {
            vector = try rotator(seed: rotationSeed).rotate(vector)
        }
        for index in vector.indices { vector[index] /= granularity }
        return try Self.conditionallyRound(vector, squaredNormBound: squaredL2SensitivityBound, using: &random)
    }

    /// Steps 1–5: the lanes a client masks and sends (``encodedDimension`` lanes, each below 2^bits).
    ///
    /// - Throws: as ``quantize(_:rotationSeed:using:)``.
    public func encode(
        _ values: [Double], rotationSeed: [UInt8]? = nil, using random: inout some RandomSource
    ) throws(EncodingError) -> [UInt64] {
        try quantize(values, rotationSeed: rotationSeed, using: &random).map { SignedModular.wrap($0, bits: bits) }
    }

    /// Decodes the released sum (``encodedDimension`` lanes) into the sum of the clients' clipped vectors
    /// (``dimension`` values): lift to (−2^(bits−1), 2^(bits−1)], multiply by γ, undo the rotation.
    ///
    /// - Throws: ``EncodingError/dimensionMismatch(expected:actual:)``, ``EncodingError/laneOutOfRange(index:bits:)``,
    ///   ``EncodingError/missingRotationSeed``, ``EncodingError/invalidRotationSeed(length:)``.
    public func decodeSum(_ lanes: [UInt64], rotationSeed: [UInt8]? = nil) throws(EncodingError) -> [Double] {
        guard lanes.count == encodedDimension else {
            throw .dimensionMismatch(expected: encodedDimension, actual: lanes.count)
        }
        try SignedModular.checkLanes(lanes, bits: bits)
        let scaled = lanes.map { SignedModular.liftToDouble($0, bits: bits) * granularity }
        guard rotation else { return scaled }
        return try rotator(seed: rotationSeed).unrotate(scaled)
    }

    /// Decodes the released sum and divides by `survivors`, the number of clients whose inputs it contains.
    ///
    /// - Throws: ``EncodingError/invalidSurvivorCount(_:)`` unless `survivors ≥ 1`, else as ``decodeSum(_:rotationSeed:)``.
    public func decodeMean(
        _ lanes: [UInt64], survivors: Int, rotationSeed: [UInt8]? = nil
    ) throws(EncodingError) -> [Double] {
        guard survivors >= 1 else { throw .invalidSurvivorCount(survivors) }
        let count = Double(survivors)
        return try decodeSum(lanes, rotationSeed: rotationSeed).map { $0 / count }
    }

    /// Step 4: conditional randomized rounding of `scaled` to integers with Σ z_i² ≤ `squaredNormBound`.
    ///
    /// Each attempt draws one uniform u_i = (w_i >> 11)·2^−53 per coordinate, i = 0, 1, …, from consecutive
    /// little-endian 64-bit words w_i of `random` (D words per attempt, also for coordinates that are already
    /// integers), and sets z_i = ⌊y_i⌋ + (u_i < y_i − ⌊y_i⌋ ? 1 : 0). The attempt is accepted iff Σ z_i² (exact, in
    /// integers) ≤ ⌊squaredNormBound⌋; otherwise the next attempt draws fresh words. With squaredNormBound = Δ₂²
    /// an attempt fails with probability ≤ β. Each z_i is unbiased up to 2^−53 before conditioning.
    ///
    /// - Throws: ``EncodingError/nonFiniteValue(index:)`` for a NaN or infinite y_i;
    ///   ``EncodingError/invalidParameter(name:reason:)`` if some |y_i| ≥ 2^62 or `squaredNormBound` is NaN or
    ///   negative (+∞ means no bound); ``EncodingError/roundingDidNotConverge(attempts:)`` after
    ///   ``maximumRoundingAttempts`` failures.
    public static func conditionallyRound(
        _ scaled: [Double], squaredNormBound: Double, using random: inout some RandomSource
    ) throws(EncodingError) -> [Int64] {
        guard squaredNormBound >= 0 else {
            throw .invalidParameter(
                name: "squaredNormBound", reason: "must be non-negative (or +∞), got \(squaredNormBound)")
        }
        for (index, value) in scaled.enumerated() {
            guard value.isFinite else { throw .nonFiniteValue(index: index) }
            guard value.magnitude < 0x1p62 else {
                throw .invalidParameter(name: "scaled", reason: "value \(value) at index \(index) is not below 2^62")
            }
        }
        let threshold = EncoderNorm.threshold(squaredBound: squaredNormBound)
        let floors = scaled.map { $0.rounded(.down) }
        var uniforms = [Double](repeating: 0, count: scaled.count)
        var rounded = [Int64](repeating: 0, count: scaled.count)
        for _ in 0..<maximumRoundingAttempts {
            random.fillUnitUniforms(&uniforms)
            for index in scaled.indices {
                let floor = floors[index]
                rounded[index] = Int64(floor) + (uniforms[index] < scaled[index] - floor ? 1 : 0)
            }
            if EncoderNorm.squared(rounded) <= threshold { return rounded }
        }
        throw .roundingDidNotConverge(attempts: maximumRoundingAttempts)
    }

    // MARK: - Private

    /// The rotation for `seed`, which must be present.
    private func rotator(seed: [UInt8]?) throws(EncodingError) -> RandomizedHadamard {
        guard let seed else { throw .missingRotationSeed }
        return try RandomizedHadamard(dimension: dimension, seed: seed)
    }

    /// The rotated per-coordinate bound for clip `clip`: rounding < 1, plus sub-Gaussian scale (clip/γ)/√D.
    private func rotatedBound(clip: Double) -> EncoderBitsCheck.CoordinateBound {
        .init(deterministic: 1, subgaussianScale: clip / granularity / Double(encodedDimension).squareRoot())
    }

    /// The worst-case bound ⌊Δ₂⌋ for clip `clip`.
    private func worstCaseBound(clip: Double) -> EncoderBitsCheck.CoordinateBound {
        let squared = Self.squaredNormBound(
            clip: clip, granularity: granularity, dimension: encodedDimension, roundingBias: roundingBias)
        return .init(deterministic: squared.squareRoot().rounded(.down))
    }

    /// Of the bounds valid for this encoder at clip `clip`, the one with the smaller sum bound.
    private func bestBound(
        clip: Double, clients: Int, noiseStandardDeviation: Double, k: Double
    ) -> EncoderBitsCheck.CoordinateBound {
        let worst = worstCaseBound(clip: clip)
        guard rotation else { return worst }
        let rotated = rotatedBound(clip: clip)
        let n = max(clients, 1)
        let rotatedTotal = EncoderBitsCheck.sumBound(
            clients: n, bound: rotated, noiseStandardDeviation: noiseStandardDeviation, standardDeviations: k)
        let worstTotal = EncoderBitsCheck.sumBound(
            clients: n, bound: worst, noiseStandardDeviation: noiseStandardDeviation, standardDeviations: k)
        return rotatedTotal <= worstTotal ? rotated : worst
    }

    /// "lower the clip to at most C′ (now C), or raise the granularity to at least γ′", where C′ is the largest
    /// clip (found by bisection; the sum bound grows with C/γ) that fits; nil if no positive clip fits.
    private func clipSuggestion(clients: Int, noiseStandardDeviation: Double, k: Double) -> String? {
        guard noiseStandardDeviation.isFinite, noiseStandardDeviation >= 0, k.isFinite, k >= 0 else { return nil }
        let capacity = EncoderBitsCheck.capacity(bits: bits)
        func fits(_ candidate: Double) -> Bool {
            let bound = bestBound(
                clip: candidate, clients: clients, noiseStandardDeviation: noiseStandardDeviation, k: k)
            return EncoderBitsCheck.sumBound(
                clients: clients, bound: bound, noiseStandardDeviation: noiseStandardDeviation, standardDeviations: k)
                < capacity
        }
        var low = 0.0
        var high = clip
        guard fits(clip * 0x1p-60) else { return nil }
        for _ in 0..<200 {
            let middle = (low + high) / 2
            if middle <= low || middle >= high { break }
            if fits(middle) { low = middle } else { high = middle }
        }
        let maximumClip = Self.threeSignificantDigits(low, rounding: .down)
        guard maximumClip > 0 else { return nil }
        let minimumGranularity = Self.threeSignificantDigits(granularity * clip / low, rounding: .up)
        return "lower the clip to at most \(maximumClip) (now \(clip)) or raise the granularity to at least "
            + "\(minimumGranularity) (now \(granularity))"
    }

    /// `value` rounded to three significant decimal digits in direction `rounding`, for messages.
    private static func threeSignificantDigits(_ value: Double, rounding: FloatingPointRoundingRule) -> Double {
        guard value.isFinite, value > 0 else { return value }
        let exponent = Int(log10(value).rounded(.down)) - 2
        if exponent < 0 {
            let scale = pow(10, Double(-exponent))
            return (value * scale).rounded(rounding) / scale
        }
        let scale = pow(10, Double(exponent))
        return (value / scale).rounded(rounding) * scale
    }
}
