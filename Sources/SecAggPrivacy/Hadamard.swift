import SecAggCrypto

/// The randomized Hadamard rotation `R = H_D · diag(s)` that spreads a vector's energy evenly over its
/// coordinates before rounding and modular summation (Kairouz, Liu, Steinke, ICML 2021, §4.2; TFF's
/// `HadamardTransformFactory`).
///
/// Why: after rotation every coordinate of a vector of norm c is sub-Gaussian with variance proxy c²/D, so the
/// sum of n clients' vectors per coordinate is about n·c/√D instead of up to n·c: fewer bits suffice, and the
/// rounding error is spread evenly.
///
/// Definition (reproduce exactly):
/// - `D` = the smallest power of two ≥ `dimension` (``paddedDimension(for:)``); a vector is padded with zeros
///   from `dimension` to `D` coordinates.
/// - Signs: a ``PublicCoin`` is started on the 32-byte public seed and ⌈D/8⌉ bytes are drawn at once (its first
///   bytes, nothing drawn before). Sign `s_i` (0 ≤ i < D) is bit `i mod 8` (least significant bit first) of byte
///   `⌊i/8⌋`: bit 1 means −1, bit 0 means +1. No other draw is made from this coin.
/// - `H_D[i][j] = (−1)^popcount(i & j) / √D` (Sylvester order, normalised, so `H_D` is orthonormal, symmetric and
///   its own inverse).
/// - Forward: pad, multiply coordinate i by `s_i`, apply `H_D`. Inverse: apply `H_D`, multiply by `s_i`, drop the
///   padding coordinates `dimension..<D`.
///
/// `H_D` is computed with the in-place fast Walsh–Hadamard butterfly (`(a, b) ↦ (a + b, a − b)` for strides
/// 1, 2, 4, …, D/2) followed by one multiplication by `1/√D`; another implementation with the same matrix agrees
/// up to floating-point rounding, which is all the protocol needs (only the rounded integers are transmitted).
public struct RandomizedHadamard: Sendable, Equatable {
    /// The largest supported `dimension` (2^30), which keeps `D` and the arrays within reasonable memory.
    public static let maximumDimension = 1 << 30

    /// The length of the vectors that are rotated (before padding).
    public let dimension: Int

    /// `D`, the smallest power of two ≥ ``dimension``: the length of rotated vectors.
    public let paddedDimension: Int

    /// The Rademacher signs `s_0 … s_{D−1}` as ±1.
    public let signs: [Double]

    /// The rotation for `dimension`-long vectors under the public `seed`.
    ///
    /// - Throws: ``EncodingError/invalidParameter(name:reason:)`` unless `1 ≤ dimension ≤ 2^30`;
    ///   ``EncodingError/invalidRotationSeed(length:)`` unless `seed` has 32 bytes.
    public init(dimension: Int, seed: [UInt8]) throws(EncodingError) {
        guard dimension >= 1, dimension <= Self.maximumDimension else {
            throw .invalidParameter(
                name: "dimension", reason: "must be in 1...\(Self.maximumDimension), got \(dimension)")
        }
        guard seed.count == 32, var coin = try? PublicCoin(seed: seed) else {
            throw .invalidRotationSeed(length: seed.count)
        }
        let padded = Self.paddedDimension(for: dimension)
        let bytes = coin.bytes((padded + 7) / 8)
        self.dimension = dimension
        paddedDimension = padded
        signs = (0..<padded).map { index in
            (bytes[index >> 3] >> UInt8(index & 7)) & 1 == 1 ? -1.0 : 1.0
        }
    }

    /// The smallest power of two ≥ `dimension` (1 for `dimension ≤ 1`).
    public static func paddedDimension(for dimension: Int) -> Int {
        var padded = 1
        while padded < dimension { padded <<= 1 }
        return padded
    }

    /// `R·x`: pads `vector` to ``paddedDimension``, flips signs, applies the normalised Walsh–Hadamard transform.
    ///
    /// - Throws: ``EncodingError/dimensionMismatch(expected:actual:)`` unless `vector.count == dimension`.
    public func rotate(_ vector: [Double]) throws(EncodingError) -> [Double] {
        guard vector.count == dimension else { throw .dimensionMismatch(expected: dimension, actual: vector.count) }
        var result = [Double](repeating: 0, count: paddedDimension)
        for index in 0..<dimension { result[index] = vector[index] * signs[index] }
        Self.transform(&result)
        return result
    }

    /// `R⁻¹·y = diag(s)·H_D·y` truncated to ``dimension`` coordinates: undoes ``rotate(_:)`` (up to rounding).
    ///
    /// - Throws: ``EncodingError/dimensionMismatch(expected:actual:)`` unless `vector.count == paddedDimension`.
    public func unrotate(_ vector: [Double]) throws(EncodingError) -> [Double] {
        guard vector.count == paddedDimension else {
            throw .dimensionMismatch(expected: paddedDimension, actual: vector.count)
        }
        var result = vector
        Self.transform(&result)
        result.removeLast(paddedDimension - dimension)
        for index in 0..<dimension { result[index] *= signs[index] }
        return result
    }

    /// Applies the normalised Walsh–Hadamard transform `H_D` in place (`D = vector.count`).
    ///
    /// The butterfly runs over strides h = 1, 2, 4, …, D/2; for each block start i (a multiple of 2h) and each
    /// j in i..<i+h it replaces (x_j, x_{j+h}) by (x_j + x_{j+h}, x_j − x_{j+h}); finally every coordinate is
    /// multiplied by 1/√D. Applying it twice returns the input (up to rounding).
    ///
    /// - Precondition: `vector.count` is a power of two (≥ 1).
    public static func transform(_ vector: inout [Double]) {
        let count = vector.count
        precondition(count > 0 && count & (count - 1) == 0, "Hadamard transform needs a power-of-two length")
        vector.withUnsafeMutableBufferPointer { values in
            var half = 1
            while half < count {
                var start = 0
                while start < count {
                    for index in start..<(start + half) {
                        let a = values[index]
                        let b = values[index + half]
                        values[index] = a + b
                        values[index + half] = a - b
                    }
                    start += half << 1
                }
                half <<= 1
            }
            let scale = 1 / Double(count).squareRoot()
            for index in 0..<count { values[index] *= scale }
        }
    }
}
