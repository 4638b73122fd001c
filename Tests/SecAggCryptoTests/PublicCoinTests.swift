import SecAggCrypto
import Testing

@Suite("PublicCoin")
struct PublicCoinTests {
    private static let seed = (0..<32).map { UInt8($0 * 5 + 1) }

    private static func keystream(count: Int) throws -> [UInt8] {
        try ChaCha20.keystream(
            key: SymmetricKey(SecureBytes(copying: seed)), nonce: [UInt8](repeating: 0, count: 12), counter: 0,
            count: count)
    }

    @Test("fill(5) then fill(3) equals fill(8)")
    func smallSplit() throws {
        var split = try PublicCoin(seed: Self.seed)
        let first = split.bytes(5) + split.bytes(3)
        var whole = try PublicCoin(seed: Self.seed)
        #expect(first == whole.bytes(8))
        #expect(first == Array(try Self.keystream(count: 8)))
    }

    @Test("Any sequence of fills reads the keystream strictly in order", arguments: [
        [1, 2, 3, 58, 64, 65, 0, 127, 128, 7, 300],
        [64, 64, 64],
        [63, 1, 63, 2, 200],
        [1000],
    ])
    func chunkedConsumption(sizes: [Int]) throws {
        var coin = try PublicCoin(seed: Self.seed)
        var collected: [UInt8] = []
        for size in sizes { collected += coin.bytes(size) }
        #expect(collected == (try Self.keystream(count: sizes.reduce(0, +))))
    }

    @Test("Derived integers consume little-endian words from the stream")
    func integers() throws {
        var coin = try PublicCoin(seed: Self.seed)
        let stream = try Self.keystream(count: 12)
        let word32 = (0..<4).reduce(UInt32(0)) { $0 | UInt32(stream[$1]) << (8 * UInt32($1)) }
        let word64 = (0..<8).reduce(UInt64(0)) { $0 | UInt64(stream[4 + $1]) << (8 * UInt64($1)) }
        #expect(coin.nextUInt32() == word32)
        #expect(coin.nextUInt64() == word64)
    }

    @Test("Different seeds give different streams; the seed must have 32 bytes")
    func seeds() throws {
        var a = try PublicCoin(seed: Self.seed)
        var b = try PublicCoin(seed: flippingBit(Self.seed, at: 0))
        #expect(a.bytes(32) != b.bytes(32))
        #expect(throws: CryptoError.invalidLength(what: "public coin seed", expected: 32, actual: 31)) {
            try PublicCoin(seed: Array(Self.seed.dropLast()))
        }
    }
}
