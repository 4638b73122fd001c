import SecAggCrypto
import SecAggMath
import SecAggSimulation
import SecAggWire

/// A random source that serves an explicit byte tape, so that every value a party draws is written in a vector.
///
/// Generation may give a `fallback` for draws whose byte count is not known in advance (noise); the bytes it
/// supplies are recorded and written into the vector, so verification replays them from the tape.
struct TapeRandom: RandomSource, Sendable {
    private let tape: [UInt8]
    private(set) var position = 0
    private var fallback: SeededRandom?
    /// Bytes drawn from the fallback, in order.
    private(set) var recorded: [UInt8] = []
    /// Set when a draw asked for more bytes than the tape holds and no fallback was given.
    private(set) var overrun = false
    private var exhausted = SeededRandom(seed: 0, stream: "vectors/exhausted-tape")

    init(_ tape: [UInt8], fallback: SeededRandom? = nil) {
        self.tape = tape
        self.fallback = fallback
    }

    var remaining: Int { tape.count - position }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for offset in 0..<buffer.count {
            if position < tape.count {
                buffer[offset] = tape[position]
                position += 1
            } else if var source = fallback {
                var byte: UInt8 = 0
                withUnsafeMutableBytes(of: &byte) { source.fill($0) }
                fallback = source
                recorded.append(byte)
                buffer[offset] = byte
            } else {
                // Past the end: keep serving (deterministic) bytes so that a rejection sampler still terminates, and
                // report the shortfall afterwards.
                var byte: UInt8 = 0
                withUnsafeMutableBytes(of: &byte) { exhausted.fill($0) }
                buffer[offset] = byte
                overrun = true
            }
        }
    }

    /// Throws unless the tape was used exactly.
    func checkExhausted(_ what: String) throws(VectorError) {
        guard !overrun else { throw .draws("\(what): the explicit draws are too short") }
        guard remaining == 0 else { throw .draws("\(what): \(remaining) bytes of explicit draws were not used") }
    }
}

/// Field elements as the 8-byte little-endian words a Shamir dealer draws (SPEC 6.3): replaying them through
/// the dealer reproduces exactly these coefficients.
func coefficientTape(_ coefficients: [[UInt64]]) -> [UInt8] {
    var tape: [UInt8] = []
    for chunk in coefficients {
        for value in chunk { withUnsafeBytes(of: value.littleEndian) { tape.append(contentsOf: $0) } }
    }
    return tape
}

/// Spec-level helpers recomputed here on purpose, independently of the implementation they check.
enum Spec {
    /// label(L) = u8(|L|) ‖ L.
    static func label(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }

    /// u32(x), big-endian.
    static func u32(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    /// (a · b) mod p for p = 2^61 − 1.
    static func mulmod(_ a: UInt64, _ b: UInt64) -> UInt64 {
        let product = a.multipliedFullWidth(by: b)
        let wide = (UInt128(product.high) << 64) | UInt128(product.low)
        return UInt64(wide % UInt128(Shamir.prime))
    }

    /// f(x) = Σ a_i x^i mod p (Horner).
    static func evaluate(_ coefficients: [UInt64], at x: UInt64) -> UInt64 {
        var value: UInt64 = 0
        for coefficient in coefficients.reversed() {
            value = (mulmod(value, x) + coefficient) % Shamir.prime
        }
        return value
    }

    /// Chunk c of a secret: bytes 7c ..< min(7c + 7, L) read little-endian.
    static func chunks(of secret: [UInt8]) -> [UInt64] {
        stride(from: 0, to: secret.count, by: 7).map { start in
            secret[start..<min(start + 7, secret.count)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        }
    }

    /// PRG lanes (SPEC 5.8) straight from the ChaCha20 keystream.
    static func prgLanes(key: [UInt8], bits: Int, dimension: Int) throws(VectorError) -> (keystream: [UInt8], lanes: [UInt64]) {
        let width = bits <= 32 ? 4 : 8
        let symmetric = try symmetricKey(key)
        let keystream = ChaCha20.keystream(key: symmetric, nonce: [UInt8](repeating: 0, count: 12), counter: 0, count: width * dimension)
        let mask: UInt64 = bits == 64 ? .max : (UInt64(1) << UInt64(bits)) - 1
        let lanes = (0..<dimension).map { lane in
            keystream[(lane * width)..<(lane * width + width)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } & mask
        }
        return (keystream, lanes)
    }

    static func symmetricKey(_ bytes: [UInt8]) throws(VectorError) -> SymmetricKey {
        do {
            return try SymmetricKey(SecureBytes(copying: bytes))
        } catch {
            throw .badField("key", "must be 32 bytes")
        }
    }

    static func x25519(_ bytes: [UInt8], field: String) throws(VectorError) -> X25519.PrivateKey {
        do {
            return try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: bytes))
        } catch {
            throw .badField(field, "not a 32-byte X25519 private key")
        }
    }

    static func x25519Public(_ bytes: [UInt8], field: String) throws(VectorError) -> X25519.PublicKey {
        do {
            return try X25519.PublicKey(rawRepresentation: bytes)
        } catch {
            throw .badField(field, "not a 32-byte X25519 public key")
        }
    }

    static func agreement(_ privateKey: X25519.PrivateKey, _ publicKey: X25519.PublicKey) throws(VectorError) -> SharedSecret {
        do {
            return try privateKey.sharedSecret(with: publicKey)
        } catch {
            throw .disagreement("X25519 agreement failed: \(error)")
        }
    }

    static func ed25519(_ seed: [UInt8], field: String) throws(VectorError) -> Ed25519.SigningKey {
        do {
            return try Ed25519.SigningKey(seed: SecureBytes(copying: seed))
        } catch {
            throw .badField(field, "not a 32-byte Ed25519 seed")
        }
    }

    static func bytes(of secret: SharedSecret) -> [UInt8] { secret.withUnsafeBytes { Array($0) } }

    static func bytes(of key: SymmetricKey) -> [UInt8] { key.bytes.unsafeCopyToArray() }
}

/// Deterministic material for generating inputs (never used to check anything).
struct Material {
    private var random: SeededRandom

    init(_ stream: String) { random = SeededRandom(seed: 0x5EC_A66_0001, stream: "vectors/" + stream) }

    mutating func bytes(_ count: Int) -> [UInt8] { random.bytes(count) }

    mutating func uniform(below bound: UInt64) -> UInt64 { random.uniform(below: bound) }

    /// A uniform field element below p (the same rule a dealer uses).
    mutating func fieldElement() -> UInt64 {
        while true {
            let candidate = random.nextUInt64() & Shamir.prime
            if candidate != Shamir.prime { return candidate }
        }
    }
}

func require(_ condition: Bool, _ what: @autoclosure () -> String) throws(VectorError) {
    guard condition else { throw .disagreement(what()) }
}
