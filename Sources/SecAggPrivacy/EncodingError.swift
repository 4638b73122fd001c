/// Errors raised by the vector encoders (``FloatVectorEncoder``, ``IntegerVectorEncoder``), the randomized Hadamard
/// rotation (``RandomizedHadamard``) and the wrap-around check (``EncoderBitsCheck``).
///
/// Every case describes a caller's mistake or a configuration that cannot work (bad parameters, an input that
/// violates its declared bounds, a `bits` too small for the round); none describes an internal failure. The
/// ``description`` is meant to be shown to an operator as is: it says what is wrong and what to change.
public enum EncodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A construction parameter is out of its domain (for example a non-positive clip, `bits` outside 1...64, a
    /// rounding bias outside [0, 1), `lowerBound > upperBound`).
    ///
    /// - Parameters:
    ///   - name: The parameter, as spelled in the API (`"clip"`, `"bits"`, …).
    ///   - reason: What is wrong and what the valid range is.
    case invalidParameter(name: String, reason: String)

    /// A vector does not have the length the encoder or rotation was built for.
    case dimensionMismatch(expected: Int, actual: Int)

    /// The input value at `index` is NaN or infinite.
    case nonFiniteValue(index: Int)

    /// The integer input at `index` lies outside the declared bounds `lowerBound...upperBound`.
    case valueOutOfBounds(index: Int, value: Int64, lowerBound: Int64, upperBound: Int64)

    /// The integer input's L2 norm (of `x − lowerBound`) exceeds the declared bound.
    ///
    /// - Parameters:
    ///   - squaredNorm: Σ (x_i − lowerBound)², saturated at `UInt64.max`.
    ///   - bound: The declared L2 norm bound.
    case normBoundExceeded(squaredNorm: UInt64, bound: Double)

    /// A released lane is not below 2^bits (the sum handed to a decoder was not reduced).
    case laneOutOfRange(index: Int, bits: Int)

    /// The rotation seed is not 32 bytes (it is a ChaCha20 key for ``PublicCoin``).
    case invalidRotationSeed(length: Int)

    /// The encoder rotates but no rotation seed was given.
    case missingRotationSeed

    /// Conditional randomized rounding did not produce a vector within the norm bound after `attempts` tries.
    ///
    /// Each try fails with probability at most β (the rounding bias), so this only happens when β is very close
    /// to 1 or the input was not clipped; lowering β makes it go away.
    case roundingDidNotConverge(attempts: Int)

    /// The survivor count handed to a decoder is not positive.
    case invalidSurvivorCount(Int)

    /// The decoded integer sum at `index` does not fit in `Int64`.
    case sumOutOfRange(index: Int)

    /// `bits` is too small: the released sum could wrap around 2^bits. The associated value says what to change.
    case insufficientBits(EncoderBitsCheck.Shortfall)

    /// A human-readable explanation, including the remedy where there is one.
    public var description: String {
        switch self {
        case .invalidParameter(let name, let reason):
            "invalid encoder parameter \(name): \(reason)"
        case .dimensionMismatch(let expected, let actual):
            "vector has \(actual) coordinates, expected \(expected)"
        case .nonFiniteValue(let index):
            "input value at index \(index) is NaN or infinite"
        case .valueOutOfBounds(let index, let value, let lowerBound, let upperBound):
            "input value \(value) at index \(index) is outside the declared bounds [\(lowerBound), \(upperBound)]"
        case .normBoundExceeded(let squaredNorm, let bound):
            "input has squared L2 norm \(squaredNorm) (of x − lowerBound), above the declared bound \(bound)² "
                + "= \(bound * bound)"
        case .laneOutOfRange(let index, let bits):
            "lane \(index) of the released sum is not below 2^\(bits)"
        case .invalidRotationSeed(let length):
            "rotation seed has \(length) bytes, expected 32"
        case .missingRotationSeed:
            "the encoder uses a randomized Hadamard rotation but no rotation seed was given"
        case .roundingDidNotConverge(let attempts):
            "conditional randomized rounding exceeded the norm bound \(attempts) times in a row; "
                + "lower the rounding bias β"
        case .invalidSurvivorCount(let count):
            "survivor count must be positive, got \(count)"
        case .sumOutOfRange(let index):
            "decoded sum at index \(index) does not fit in a 64-bit signed integer"
        case .insufficientBits(let shortfall):
            shortfall.description
        }
    }
}
