import SecAggCrypto

/// A reproducible random source for tests and simulations only.
///
/// It is the ChaCha20 keystream (via ``PublicCoin``) under a key derived from a 64-bit seed and a stream name, so
/// independent streams (one per simulated client and phase) do not depend on scheduling. It lives in
/// `SecAggSimulation`, which the daemon and the client library do not link: it cannot be selected there.
public struct SeededRandom: RandomSource, Sendable {
    private var coin: PublicCoin

    /// A stream determined by `seed` and `stream`.
    public init(seed: UInt64, stream: String = "") {
        var material: [UInt8] = Array("secagg/simulation/seed".utf8)
        withUnsafeBytes(of: seed.littleEndian) { material.append(contentsOf: $0) }
        material.append(contentsOf: stream.utf8)
        let key = Blake2b.hash(material, outputByteCount: 32)
        guard let coin = try? PublicCoin(seed: key) else {
            preconditionFailure("a 32-byte BLAKE2b output is a valid ChaCha20 key")
        }
        self.coin = coin
    }

    public mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        coin.fill(buffer)
    }
}
