import SecAggCrypto
import Testing

@Suite("KDF (keyed BLAKE2b, length-prefixed label)")
struct KDFTests {
    private let inputKey = SecureBytes(copying: Array(0...31))

    /// Computed independently with Python:
    /// `hashlib.blake2b(bytes([len(label)]) + label + context, key=key, digest_size=n).hexdigest()`.
    @Test("Known answers computed with Python's hashlib.blake2b")
    func knownAnswers() {
        let derived = KDF.derive(label: "secagg/test", from: inputKey, context: hex("0102030405"), outputByteCount: 32)
        #expect(derived.unsafeCopyToArray() == hex("d985f74af47b580aeec7516dbabef1d2139bca46fb982f934d60fce6857be895"))
        let key = KDF.deriveKey(label: "secagg/test", from: inputKey, context: hex("0102030405"))
        #expect(key.bytes.constantTimeEquals(derived))

        let shortKey = SecureBytes(copying: Array(0x40...0x4f))
        let long = KDF.derive(label: "x", from: shortKey, context: [], outputByteCount: 64)
        #expect(long.unsafeCopyToArray() == hex("""
            c4534dc2c21fbb181bab1d3e26da07b8fb779c3204fb3cb2f492ba3644b548116cae795de8acfe27519afd4110c959cb\
            34b2a61e5ca8eec50e35400c8a301140
            """))
    }

    @Test("Derivation is deterministic")
    func deterministic() {
        let first = KDF.deriveKey(label: "mask", from: inputKey, context: [9, 9])
        let second = KDF.deriveKey(label: "mask", from: inputKey, context: [9, 9])
        #expect(first.bytes.constantTimeEquals(second.bytes))
    }

    @Test("Labels, contexts, input keys and the label/context split all separate outputs")
    func separation() {
        let base = KDF.deriveKey(label: "ab", from: inputKey, context: Array("c".utf8))
        let otherLabel = KDF.deriveKey(label: "ad", from: inputKey, context: Array("c".utf8))
        let otherContext = KDF.deriveKey(label: "ab", from: inputKey, context: Array("d".utf8))
        let shiftedBoundary = KDF.deriveKey(label: "a", from: inputKey, context: Array("bc".utf8))
        let otherInput = KDF.deriveKey(label: "ab", from: SecureBytes(copying: Array(1...32)), context: Array("c".utf8))
        for other in [otherLabel, otherContext, shiftedBoundary, otherInput] {
            #expect(!base.bytes.constantTimeEquals(other.bytes))
        }
    }

    @Test("Output sizes are honoured and prefixes are not shared")
    func outputSizes() {
        let short = KDF.derive(label: "len", from: inputKey, context: [], outputByteCount: 16)
        let long = KDF.derive(label: "len", from: inputKey, context: [], outputByteCount: 64)
        #expect(short.count == 16)
        #expect(long.count == 64)
        // BLAKE2b binds the output length into its parameter block.
        #expect(Array(long.unsafeCopyToArray().prefix(16)) != short.unsafeCopyToArray())
    }

    @Test("SymmetricKey requires exactly 32 bytes")
    func symmetricKeyLength() throws {
        #expect(throws: CryptoError.invalidLength(what: "symmetric key", expected: 32, actual: 31)) {
            try SymmetricKey(SecureBytes(copying: [UInt8](repeating: 0, count: 31)))
        }
        let key = try SymmetricKey(SecureBytes(copying: [UInt8](repeating: 7, count: 32)))
        #expect(key.bytes.count == SymmetricKey.byteCount)
        var random = CountingRandom(next: 5)
        #expect(SymmetricKey(using: &random).bytes.unsafeCopyToArray() == Array(5...36))
    }
}
