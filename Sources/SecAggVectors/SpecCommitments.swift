import SecAggCrypto

/// The version 2 pieces of the spec, recomputed here from the text of SPEC 5.3, 5.7, 5.13 and 7.1-7.3 on purpose:
/// nothing below calls `MerkleTree`, `IndexPermutation`, `NeighborGraph`, `AdvertisementTree`, `SurvivorTree` or
/// `Derivation`, so that a vector is written only when the protocol code and these formulas agree. Only the
/// primitives (BLAKE2b, ChaCha20) are shared.
extension Spec {
    static let sessionLabel = "secagg/v2/session"
    static let graphLabel = "secagg/v2/graph"
    static let consistencyLabel = "secagg/v2/consistency"
    static let merkleNodeLabel = "secagg/v2/merkle-node"
    static let advertisementLeafLabel = "secagg/v2/u1-leaf"
    static let survivorLeafLabel = "secagg/v2/u3-leaf"

    /// H(L, data) = BLAKE2b-256(label(L) ‖ data) (SPEC 5).
    static func hash(_ label: String, _ data: [UInt8]) -> [UInt8] {
        Blake2b.hash(Self.label(label) + data)
    }

    /// session_id = H("secagg/v2/session", round_digest ‖ u32(|U1|) ‖ u1_root) (SPEC 5.3).
    static func sessionID(roundDigest: [UInt8], advertisedCount: UInt32, u1Root: [UInt8]) -> [UInt8] {
        hash(sessionLabel, roundDigest + u32(advertisedCount) + u1Root)
    }

    /// The exact bytes hashed for the session id.
    static func sessionInput(roundDigest: [UInt8], advertisedCount: UInt32, u1Root: [UInt8]) -> [UInt8] {
        label(sessionLabel) + roundDigest + u32(advertisedCount) + u1Root
    }

    /// consistency_input = label("secagg/v2/consistency") ‖ session_id ‖ u32(|U3|) ‖ survivor_root (SPEC 5.7).
    static func consistencyInput(sessionID: [UInt8], survivorCount: UInt32, survivorRoot: [UInt8]) -> [UInt8] {
        label(consistencyLabel) + sessionID + u32(survivorCount) + survivorRoot
    }

    /// One advertisement as the advertisement tree hashes it (no endorsement).
    struct Advertisement: Equatable {
        var index: UInt32
        var identityKey: [UInt8]
        var encryptionKey: [UInt8]
        var maskingKey: [UInt8]
        var signature: [UInt8]
    }

    /// The bytes hashed for the advertisement-tree leaf of participant `index` (SPEC 5.13).
    static func advertisementLeafInput(index: UInt32, _ advertisement: Advertisement?) -> [UInt8] {
        guard let advertisement else { return label(advertisementLeafLabel) + u32(index) + [0x00] }
        return label(advertisementLeafLabel) + u32(index) + [0x01] + advertisement.identityKey + advertisement.encryptionKey
            + advertisement.maskingKey + advertisement.signature
    }

    /// leaf(i) of the advertisement tree: present (0x01 and the advertisement) or absent (0x00).
    static func advertisementLeaf(index: UInt32, _ advertisement: Advertisement?) -> [UInt8] {
        Blake2b.hash(advertisementLeafInput(index: index, advertisement))
    }

    /// The bytes hashed for the survivor-tree leaf of participant `participant` (SPEC 5.13).
    static func survivorLeafInput(participant: UInt32, survived: Bool) -> [UInt8] {
        label(survivorLeafLabel) + u32(participant) + [survived ? 0x01 : 0x00]
    }

    /// leaf(p) of the survivor tree for the participant at that ring position.
    static func survivorLeaf(participant: UInt32, survived: Bool) -> [UInt8] {
        Blake2b.hash(survivorLeafInput(participant: participant, survived: survived))
    }

    // MARK: Merkle trees (SPEC 5.13)

    /// A Merkle tree kept as its levels, level 0 the leaves, built exactly as SPEC 5.13 words it.
    struct Merkle {
        let levels: [[[UInt8]]]

        init(leaves: [[UInt8]]) {
            precondition(!leaves.isEmpty, "a tree has at least one leaf")
            var levels = [leaves]
            while let level = levels.last, level.count > 1 {
                let m = level.count
                var next: [[UInt8]] = []
                for i in 0..<((m + 1) / 2) {
                    if 2 * i + 1 < m {
                        next.append(Spec.merkleNode(level[2 * i], level[2 * i + 1]))
                    } else {
                        next.append(level[2 * i])  // the last node of an odd level, promoted unchanged
                    }
                }
                levels.append(next)
            }
            self.levels = levels
        }

        var root: [UInt8] { levels[levels.count - 1][0] }

        /// The multiproof for the strictly increasing slots `positions`.
        func proof(_ positions: [Int]) -> [[UInt8]] {
            var proof: [[UInt8]] = []
            Spec.merkleWalk(leafCount: levels[0].count, positions: positions) { level, sibling in
                proof.append(levels[level][sibling])
            }
            return proof
        }
    }

    /// H("secagg/v2/merkle-node", left ‖ right).
    static func merkleNode(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        hash(merkleNodeLabel, left + right)
    }

    /// The walk of SPEC 5.13: at each level of m nodes, the known slots K in increasing order, skipping an odd p
    /// whose left sibling is known; s = p XOR 1; s ≥ m: promoted; s ∈ K: both known; otherwise node s is the next
    /// proof element (`sibling(level, s)`). The next K is {⌊p/2⌋}. Stops at the level with one node.
    static func merkleWalk(leafCount: Int, positions: [Int], sibling: (Int, Int) -> Void) {
        var known = positions
        var m = leafCount
        var level = 0
        while m > 1 {
            let set = Set(known)
            for p in known {
                if p % 2 == 1 && set.contains(p - 1) { continue }
                let s = p ^ 1
                if s >= m || set.contains(s) { continue }
                sibling(level, s)
            }
            var next: [Int] = []
            for p in known where next.last != p / 2 { next.append(p / 2) }
            known = next
            m = (m + 1) / 2
            level += 1
        }
    }

    /// The root a verifier recomputes from `leaves` (slot → digest) and `proof` in a tree of `leafCount` leaves, or
    /// nil when the proof runs out or has elements left over (SPEC 5.13).
    static func merkleRoot(leafCount: Int, leaves: [(Int, [UInt8])], proof: [[UInt8]]) -> [UInt8]? {
        guard !leaves.isEmpty, leafCount >= 1 else { return nil }
        var known: [Int: [UInt8]] = [:]
        for (slot, digest) in leaves {
            guard slot >= 0, slot < leafCount, known[slot] == nil else { return nil }
            known[slot] = digest
        }
        var m = leafCount
        var next = 0
        while m > 1 {
            var above: [Int: [UInt8]] = [:]
            for p in known.keys.sorted() {
                if p % 2 == 1 && known[p - 1] != nil { continue }
                let s = p ^ 1
                let node = known[p]!
                if s >= m {
                    above[p / 2] = node
                } else if let other = known[s] {
                    above[p / 2] = p < s ? merkleNode(node, other) : merkleNode(other, node)
                } else {
                    guard next < proof.count else { return nil }
                    let other = proof[next]
                    next += 1
                    above[p / 2] = p < s ? merkleNode(node, other) : merkleNode(other, node)
                }
            }
            known = above
            m = (m + 1) / 2
        }
        guard next == proof.count, let root = known[0] else { return nil }
        return root
    }

    // MARK: The ring labelling (SPEC 7.1, 7.2)

    /// π, the keyed Feistel permutation of 0..n−1 with cycle walking (SPEC 7.2).
    struct Permutation {
        let n: Int
        /// b, h and mask of SPEC 7.2.
        let bits: Int
        let halfBits: Int
        let mask: UInt32
        /// T_r for r = 0...7.
        let tables: [[UInt32]]

        init(count n: Int, seed: [UInt8]) throws(VectorError) {
            var b = 2
            while (1 << b) < n { b += 2 }
            let h = b / 2
            let mask = UInt32((1 << h) - 1)
            let key = try Spec.symmetricKey(seed)
            var tables: [[UInt32]] = []
            for r in 0..<8 {
                let number = UInt32(r + 1)
                let nonce = [UInt8(number & 0xff), UInt8(number >> 8 & 0xff), UInt8(number >> 16 & 0xff), UInt8(number >> 24)]
                    + [UInt8](repeating: 0, count: 8)
                let stream = ChaCha20.keystream(key: key, nonce: nonce, counter: 0, count: 4 << h)
                tables.append((0..<(1 << h)).map { i in
                    (UInt32(stream[4 * i]) | UInt32(stream[4 * i + 1]) << 8 | UInt32(stream[4 * i + 2]) << 16
                        | UInt32(stream[4 * i + 3]) << 24) & mask
                })
            }
            self.n = n
            bits = b
            halfBits = h
            self.mask = mask
            self.tables = tables
        }

        /// One pass E.
        func encrypt(_ x: UInt32) -> UInt32 {
            var (l, r) = (x >> UInt32(halfBits), x & mask)
            for round in 0..<8 { (l, r) = (r, l ^ tables[round][Int(r)]) }
            return l << UInt32(halfBits) | r
        }

        /// One pass D, the inverse of E.
        func decrypt(_ y: UInt32) -> UInt32 {
            var (l, r) = (y >> UInt32(halfBits), y & mask)
            for round in stride(from: 7, through: 0, by: -1) { (l, r) = (r ^ tables[round][Int(l)], l) }
            return l << UInt32(halfBits) | r
        }

        /// π(x) and the number of passes of E the walk took.
        func apply(_ x: Int) -> (value: Int, passes: Int) {
            var y = encrypt(UInt32(x))
            var passes = 1
            while y >= UInt32(n) {
                y = encrypt(y)
                passes += 1
            }
            return (Int(y), passes)
        }

        /// π⁻¹(y) and the number of passes of D.
        func invert(_ y: Int) -> (value: Int, passes: Int) {
            var x = decrypt(UInt32(y))
            var passes = 1
            while x >= UInt32(n) {
                x = decrypt(x)
                passes += 1
            }
            return (Int(x), passes)
        }
    }

    /// graph_seed = KDF(session_id, "secagg/v2/graph", empty) (SPEC 5.4), through the keyed BLAKE2b primitive.
    static func graphSeed(sessionID: [UInt8]) -> [UInt8] {
        PrimitiveVectors.keyedHash(key: sessionID, label: graphLabel, context: [])
    }

    /// The graph of SPEC 7.1-7.3 over the invited indices 1...n, as its ring and neighbourhoods.
    struct Graph {
        let n: Int
        /// nil for the complete graph (also Harary with k ≥ n − 1).
        let degree: Int?
        /// ring[p] = the participant at ring position p.
        let ring: [UInt32]
        /// position[u − 1] = the ring position of participant u.
        let position: [Int]

        /// `degree` nil for the complete graph.
        init(invitedCount n: Int, degree: Int?, seed: [UInt8]) throws(VectorError) {
            let permutation = try Permutation(count: n, seed: seed)
            var position: [Int] = []
            var ring = [UInt32](repeating: 0, count: n)
            for u in 1...n {
                let p = permutation.apply(u - 1).value
                position.append(p)
                ring[p] = UInt32(u)
            }
            for p in 0..<n {
                try require(Int(ring[p]) == permutation.invert(p).value + 1, "the Feistel inverse at \(p)")
            }
            self.n = n
            if let degree, degree < n - 1 { self.degree = degree } else { self.degree = nil }
            self.ring = ring
            self.position = position
        }

        /// N(u), increasing: from the adjacency rule on ring positions, tested against every other position.
        func neighbours(of u: UInt32) -> [UInt32] {
            let p = position[Int(u) - 1]
            var result: [UInt32] = []
            for q in 0..<n where q != p {
                guard let k = degree else {
                    result.append(ring[q])
                    continue
                }
                if PrimitiveVectors.hararyAdjacent(p, q, n: n, k: k) { result.append(ring[q]) }
            }
            return result.sorted()
        }

        /// The ring positions of u and of N(u), increasing: the proven slots of u's survivor view (SPEC 4.1.9).
        func viewPositions(of u: UInt32) -> [Int] {
            ([u] + neighbours(of: u)).map { position[Int($0) - 1] }.sorted()
        }
    }
}
