import SecAggCrypto
import Testing

@Suite("BLAKE2b (RFC 7693)")
struct Blake2bTests {
    /// RFC 7693 Appendix A: BLAKE2b-512("abc").
    static let abc512 = hex("""
        ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
        7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923
        """)

    @Test("RFC 7693 Appendix A: BLAKE2b-512(\"abc\")")
    func abc() {
        #expect(Blake2b.hash(Array("abc".utf8), outputByteCount: 64) == Self.abc512)
    }

    @Test("Default 32-byte digest of the empty string")
    func emptyDefault() {
        // hashlib.blake2b(b"", digest_size=32)
        #expect(Blake2b.hash([]) == hex("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"))
    }

    @Test("Incremental hashing equals one-shot hashing for any split")
    func incremental() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for split in [0, 1, 127, 128, 129, 999, 1000] {
            var hasher = Blake2b.Hasher(outputByteCount: 48)
            hasher.update(Array(data[..<split]))
            data[split...].withUnsafeBytes { hasher.update($0) }
            #expect(hasher.finalize() == Blake2b.hash(data, outputByteCount: 48))
        }
        var abc = Blake2b.Hasher(outputByteCount: 64)
        for byte in "abc".utf8 { abc.update([byte]) }
        #expect(abc.finalize() == Self.abc512)
    }

    @Test("Copying a hasher forks the computation")
    func valueSemantics() {
        var common = Blake2b.Hasher()
        common.update(Array("prefix-".utf8))
        var left = common
        var right = common
        left.update(Array("left".utf8))
        right.update(Array("right".utf8))
        #expect(left.finalize() == Blake2b.hash(Array("prefix-left".utf8)))
        #expect(right.finalize() == Blake2b.hash(Array("prefix-right".utf8)))
        #expect(common.finalize() == Blake2b.hash(Array("prefix-".utf8)))
    }
}
