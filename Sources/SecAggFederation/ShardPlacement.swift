import SecAggCrypto

/// Which shard a client belongs to (protocol/FEDERATION.md §5): rendezvous (highest-random-weight) hashing of the
/// client's identity key with each shard's name.
///
/// Every shard scores a key as the first 8 bytes, big-endian, of BLAKE2b-256("secagg/v2/placement" ‖ u8 name length ‖
/// name ‖ key); the key belongs to the shard with the highest score (ties, which need a 64-bit collision, go to the
/// smaller name). The answer depends only on the key and the set of names, so anyone holding both can check it;
/// adding a shard moves to it only the keys it now wins (about 1/(m+1) of them), and removing one moves only its own.
public enum ShardPlacement {
    /// The domain-separation label hashed before every name and key.
    public static let label = "secagg/v2/placement"

    /// The shard `key` belongs to among `shards` (names), or nil if there are none.
    public static func shard(for key: Ed25519.VerifyingKey, among shards: some Sequence<String>) -> String? {
        var best: (name: String, score: UInt64)?
        for name in shards {
            let value = score(of: key, for: name)
            if let current = best, current.score > value || (current.score == value && current.name < name) { continue }
            best = (name, value)
        }
        return best?.name
    }

    /// The score of `key` for the shard named `name` (the first 8 bytes of the hash, big-endian).
    public static func score(of key: Ed25519.VerifyingKey, for name: String) -> UInt64 {
        let nameBytes = Array(name.utf8.prefix(255))
        var hasher = Blake2b.Hasher(outputByteCount: 32)
        hasher.update(Array(label.utf8))
        hasher.update([UInt8(nameBytes.count)])
        hasher.update(nameBytes)
        hasher.update(key.rawRepresentation)
        return hasher.finalize().prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
