import SecAggCrypto
import SecAggFederation
import Testing

@Suite("Placing clients on shards (rendezvous hashing)")
struct ShardPlacementTests {
    static func key(_ seed: UInt8) throws -> Ed25519.VerifyingKey {
        try Ed25519.SigningKey(seed: SecureBytes(copying: [UInt8](repeating: seed, count: 32))).verifyingKey
    }

    static let names = ["shard-0", "shard-1", "shard-2", "shard-3"]

    /// The score is BLAKE2b-256(label ‖ u8 length ‖ name ‖ key), first 8 bytes big-endian (FEDERATION.md §5):
    /// computed here from the definition with the hash alone, and the highest score wins.
    @Test func scoreFollowsTheDefinition() throws {
        let key = try Self.key(1)
        for name in Self.names {
            let digest = Blake2b.hash(
                Array("secagg/v2/placement".utf8) + [UInt8(name.utf8.count)] + Array(name.utf8) + key.rawRepresentation)
            let expected = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            #expect(ShardPlacement.score(of: key, for: name) == expected)
        }
        let best = Self.names.max { ShardPlacement.score(of: key, for: $0) < ShardPlacement.score(of: key, for: $1) }
        #expect(ShardPlacement.shard(for: key, among: Self.names) == best)
        #expect(ShardPlacement.shard(for: key, among: Self.names.reversed()) == best, "the order of the names does not matter")
        #expect(ShardPlacement.shard(for: key, among: [String]()) == nil)
    }

    /// 2,000 keys over four shards: each gets a fair share; adding a fifth moves keys only onto the new shard, about a
    /// fifth of them; removing it moves exactly those back.
    @Test func balancedAndMinimalMoves() throws {
        let keys = try (0..<2_000).map { index -> Ed25519.VerifyingKey in
            var seed = [UInt8](repeating: 0, count: 32)
            seed[0] = UInt8(index & 0xFF)
            seed[1] = UInt8(index >> 8)
            return try Ed25519.SigningKey(seed: SecureBytes(copying: seed)).verifyingKey
        }
        let before = keys.map { ShardPlacement.shard(for: $0, among: Self.names)! }
        for name in Self.names {
            let share = before.filter { $0 == name }.count
            #expect((400...600).contains(share), "\(name) got \(share) of 2,000")
        }
        let grown = Self.names + ["shard-4"]
        let after = keys.map { ShardPlacement.shard(for: $0, among: grown)! }
        let moved = zip(before, after).filter { $0 != $1 }
        #expect(moved.allSatisfy { $0.1 == "shard-4" }, "a key only ever moves to the new shard")
        #expect((300...500).contains(moved.count), "\(moved.count) of 2,000 moved")
        #expect(keys.map { ShardPlacement.shard(for: $0, among: Self.names)! } == before)
    }
}
