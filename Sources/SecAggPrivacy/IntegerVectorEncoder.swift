/// Encodes bounded integer vectors (counts, histograms, fixed-point values) into Z_{2^bits} lanes, and decodes the
/// released sum.
///
/// Every coordinate of an input must lie in the declared bounds [lo, hi] (the same for all coordinates); an input
/// that does not is rejected, because one out-of-range input could otherwise shift the sum arbitrarily. Optionally
/// the L2 norm of `x − lo` is bounded too (a one-hot histogram has norm 1), which is what the accountant needs.
///
/// Encoding (client): lane_i = (x_i − lo) mod 2^bits, so each lane is a non-negative offset in [0, w] with
/// w = hi − lo. Integer noise, if any, is added to the lanes modulo 2^bits (it may be negative).
///
/// Decoding (coordinator, with the number n of clients whose inputs the sum contains): the noise-free sum of
/// offsets lies in [0, n·w], so it is recovered in a window centred on c = ⌊n·w/2⌋:
///
///     S_i = n·lo + c + lift((s_i − c) mod 2^bits)
///
/// where lift maps to (−2^(bits−1), 2^(bits−1)] (``SignedModular/lift(_:bits:)``). This is exact whenever the true
/// sum of offsets plus noise lies within (c − 2^(bits−1), c + 2^(bits−1)]; without noise that is exactly
/// n·w < 2^bits, and noise of either sign up to about (2^bits − n·w)/2 is tolerated.
/// ``checkBits(clients:noiseStandardDeviation:standardDeviations:)`` checks this before the round.
public struct IntegerVectorEncoder: Sendable, Equatable {
    /// d, the length of the input vectors.
    public let dimension: Int

    /// lo, the smallest value a coordinate may take.
    public let lowerBound: Int64

    /// hi, the largest value a coordinate may take.
    public let upperBound: Int64

    /// The modulus exponent: lanes are integers modulo 2^bits.
    public let bits: Int

    /// An optional bound on ‖x − lo‖₂, enforced at encoding.
    public let l2NormBound: Double?

    /// Creates an encoder for `dimension`-long vectors with coordinates in `lowerBound...upperBound`.
    ///
    /// - Throws: ``EncodingError/invalidParameter(name:reason:)`` if `dimension` is outside 1...2^30,
    ///   `lowerBound > upperBound`, `bits` is outside 1...64, one client's offsets do not fit
    ///   (hi − lo ≥ 2^bits), or `l2NormBound` is negative or not finite.
    public init(
        dimension: Int, lowerBound: Int64, upperBound: Int64, bits: Int, l2NormBound: Double? = nil
    ) throws(EncodingError) {
        guard dimension >= 1, dimension <= RandomizedHadamard.maximumDimension else {
            throw .invalidParameter(
                name: "dimension", reason: "must be in 1...\(RandomizedHadamard.maximumDimension), got \(dimension)")
        }
        guard lowerBound <= upperBound else {
            throw .invalidParameter(
                name: "lowerBound", reason: "must not exceed upperBound (\(lowerBound) > \(upperBound))")
        }
        try SignedModular.checkBits(bits)
        let width = UInt64(bitPattern: upperBound &- lowerBound)
        guard width <= SignedModular.mask(bits: bits) else {
            throw .invalidParameter(
                name: "bits",
                reason: "\(bits) bits cannot hold one input: upperBound − lowerBound = \(width) ≥ 2^\(bits); "
                    + "raise bits or narrow the bounds")
        }
        if let l2NormBound, !(l2NormBound.isFinite && l2NormBound >= 0) {
            throw .invalidParameter(name: "l2NormBound", reason: "must be finite and non-negative, got \(l2NormBound)")
        }
        self.dimension = dimension
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.bits = bits
        self.l2NormBound = l2NormBound
    }

    /// w = hi − lo, the largest offset.
    public var width: UInt64 { UInt64(bitPattern: upperBound &- lowerBound) }

    /// The L2 sensitivity of one client's encoded offsets (integer units), for the accountant:
    /// min(√d·w, ``l2NormBound``). Adding or removing one client moves the sum of offsets by at most this much;
    /// replacing one moves it by at most min(√d·w, 2·``l2NormBound``).
    public var l2SensitivityBound: Double {
        let box = Double(dimension).squareRoot() * Double(width)
        guard let l2NormBound else { return box }
        return min(box, l2NormBound)
    }

    /// What one client contributes to one coordinate of the centred sum, for ``EncoderBitsCheck``: w/2 (the
    /// offsets lie in [0, w] and the decoding window is centred on n·w/2).
    public var coordinateBound: EncoderBitsCheck.CoordinateBound {
        .init(deterministic: Double(width) / 2)
    }

    /// Checks that `bits` holds the sum of `clients` inputs plus noise (n·w + 2·k·σ < 2^bits), and refuses
    /// otherwise with the fewest sufficient bits, the widest bounds and the most clients that would fit.
    ///
    /// - Parameters:
    ///   - clients: the most clients whose vectors can be summed (n).
    ///   - noiseStandardDeviation: σ of all the integer noise in the released sum (0 if none).
    ///   - standardDeviations: k, how many standard deviations of noise to cover.
    /// - Throws: ``EncodingError/insufficientBits(_:)`` with the remedy, or
    ///   ``EncodingError/invalidParameter(name:reason:)`` for invalid arguments.
    public func checkBits(
        clients: Int, noiseStandardDeviation: Double = 0, standardDeviations: Double = 4
    ) throws(EncodingError) -> EncoderBitsCheck.Report {
        let capacity = EncoderBitsCheck.capacity(bits: bits)
        let noise = standardDeviations * noiseStandardDeviation
        // The exact noise-free condition n·w < 2^bits, which the Double bound may miss above 2^53.
        let exactFit =
            clients < 1 || UInt128(clients) * UInt128(width) <= UInt128(SignedModular.mask(bits: bits))
        var suggestion: String?
        let total = EncoderBitsCheck.sumBound(
            clients: max(clients, 1), bound: coordinateBound, noiseStandardDeviation: noiseStandardDeviation,
            standardDeviations: standardDeviations)
        if clients >= 1, !exactFit || !(total < capacity), noise.isFinite, noise < capacity {
            // Largest w' with n·w'/2 + k·σ < 2^(bits−1).
            let room = (capacity - noise) * 2 / Double(clients)
            var widest = room.rounded(.up) - 1
            if widest >= 0, Double(clients) * widest / 2 + noise >= capacity { widest -= 1 }
            if widest >= 0 {
                let widestText = UInt64(min(widest, 0x1p63))
                suggestion = "narrow the bounds to upperBound − lowerBound ≤ \(widestText) (now \(width))"
            }
        }
        let report = try EncoderBitsCheck.check(
            bits: bits, clients: clients, bound: coordinateBound, noiseStandardDeviation: noiseStandardDeviation,
            standardDeviations: standardDeviations, suggestion: suggestion)
        guard exactFit else {
            // Only reachable above 2^53, where the Double bound rounds: report the exact numbers.
            let product = UInt128(clients) * UInt128(width)
            let exactBits = UInt128.bitWidth - product.leadingZeroBitCount
            throw .insufficientBits(
                EncoderBitsCheck.Shortfall(
                    bits: bits, requiredBits: exactBits <= 64 ? exactBits : nil, clients: clients,
                    maximumClients: Int(min(SignedModular.mask(bits: bits) / width, UInt64(Int.max))),
                    sumBound: total, capacity: capacity, noiseBound: noise, suggestion: suggestion))
        }
        return report
    }

    /// The lanes a client masks and sends: (x_i − lo) mod 2^bits.
    ///
    /// - Throws: ``EncodingError/dimensionMismatch(expected:actual:)`` unless `values.count == dimension`;
    ///   ``EncodingError/valueOutOfBounds(index:value:lowerBound:upperBound:)`` for the first value outside
    ///   [lo, hi]; ``EncodingError/normBoundExceeded(squaredNorm:bound:)`` if ‖x − lo‖₂ exceeds ``l2NormBound``.
    public func encode(_ values: [Int64]) throws(EncodingError) -> [UInt64] {
        guard values.count == dimension else { throw .dimensionMismatch(expected: dimension, actual: values.count) }
        var offsets = [UInt64](repeating: 0, count: dimension)
        for (index, value) in values.enumerated() {
            guard value >= lowerBound, value <= upperBound else {
                throw .valueOutOfBounds(index: index, value: value, lowerBound: lowerBound, upperBound: upperBound)
            }
            offsets[index] = UInt64(bitPattern: value &- lowerBound)
        }
        if let l2NormBound {
            let squared = EncoderNorm.squared(offsets)
            if squared > EncoderNorm.threshold(squaredBound: l2NormBound * l2NormBound) {
                throw .normBoundExceeded(
                    squaredNorm: squared > UInt128(UInt64.max) ? .max : UInt64(squared), bound: l2NormBound)
            }
        }
        // Offsets are ≤ w < 2^bits, so they are already reduced.
        return offsets
    }

    /// Decodes the released sum of `survivors` clients' lanes into the sum of their inputs:
    /// S_i = n·lo + c + lift((s_i − c) mod 2^bits) with c = ⌊n·w/2⌋.
    ///
    /// - Throws: ``EncodingError/invalidSurvivorCount(_:)`` unless `survivors ≥ 1`;
    ///   ``EncodingError/dimensionMismatch(expected:actual:)``; ``EncodingError/laneOutOfRange(index:bits:)``;
    ///   ``EncodingError/sumOutOfRange(index:)`` if a sum does not fit in `Int64`.
    public func decodeSum(_ lanes: [UInt64], survivors: Int) throws(EncodingError) -> [Int64] {
        guard survivors >= 1 else { throw .invalidSurvivorCount(survivors) }
        guard lanes.count == dimension else { throw .dimensionMismatch(expected: dimension, actual: lanes.count) }
        try SignedModular.checkLanes(lanes, bits: bits)
        let mask = SignedModular.mask(bits: bits)
        // n ≤ 2^63 and w < 2^64, so n·w < 2^127 fits in both UInt128 and Int128.
        let centre = UInt128(survivors) * UInt128(width) / 2
        let centreLane = UInt64(truncatingIfNeeded: centre) & mask
        let base = Int128(survivors) * Int128(lowerBound) + Int128(centre)
        var sums = [Int64](repeating: 0, count: dimension)
        for (index, lane) in lanes.enumerated() {
            let offset = SignedModular.lift((lane &- centreLane) & mask, bits: bits)
            guard let sum = Int64(exactly: base + offset) else { throw .sumOutOfRange(index: index) }
            sums[index] = sum
        }
        return sums
    }

    /// Decodes the released sum and divides by `survivors`: the mean input.
    ///
    /// - Throws: as ``decodeSum(_:survivors:)``.
    public func decodeMean(_ lanes: [UInt64], survivors: Int) throws(EncodingError) -> [Double] {
        let count = Double(survivors)
        return try decodeSum(lanes, survivors: survivors).map { Double($0) / count }
    }
}
