import CSodium

/// A source of uniformly random bytes, injected wherever secagg needs randomness.
///
/// Protocol state machines never draw randomness of their own: callers pass a `RandomSource`. Production code
/// (daemon, client library) uses ``SystemRandom`` (libsodium's CSPRNG). A seeded, reproducible source exists
/// only in the `SecAggSimulation` module, which neither the daemon nor the client links.
public protocol RandomSource {
    /// Fills `buffer` with uniformly random bytes.
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer)
}

extension RandomSource {
    /// Returns `count` random bytes as a plain array (for public values such as nonces).
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// A uniformly random `UInt64`, little-endian from 8 random bytes.
    public mutating func nextUInt64() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return UInt64(littleEndian: value)
    }

    /// A uniformly random `UInt32`, little-endian from 4 random bytes.
    public mutating func nextUInt32() -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { fill($0) }
        return UInt32(littleEndian: value)
    }

    /// A uniform integer in `0..<bound` by rejection sampling over 32-bit little-endian words, so that the
    /// result is exactly uniform and reproducible from the byte stream (the rule in SPEC "Uniform integers").
    ///
    /// - Precondition: `0 < bound <= 2^32`.
    public mutating func uniform(below bound: UInt64) -> UInt64 {
        precondition(bound > 0 && bound <= (1 << 32), "uniform(below:) needs 0 < bound <= 2^32")
        let range: UInt64 = 1 << 32
        let limit = range - (range % bound)
        while true {
            let candidate = UInt64(nextUInt32())
            if candidate < limit { return candidate % bound }
        }
    }
}

/// libsodium's CSPRNG (`randombytes_buf`): the only randomness the daemon and the client library use.
public struct SystemRandom: RandomSource, Sendable {
    /// Never read. It gives the struct a size: an empty struct has no meaningful address, yet ThreadSanitizer builds
    /// still instrument `inout` accesses to it where it is a generic `Self` (the `RandomSource` extension's
    /// `mutating` helpers), passing whatever address is at hand — seen in CI as a "Swift access race" on the first
    /// word of an unrelated actor (swiftlang/swift#61073; the compiler skips only types it knows to be empty).
    private var storage: UInt8 = 0

    /// Creates a handle on the system CSPRNG.
    public init() {
        Sodium.initialize()
    }

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }
}
