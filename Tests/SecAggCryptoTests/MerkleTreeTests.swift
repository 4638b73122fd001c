import SecAggCrypto
import Testing

@Suite("BLAKE2b Merkle tree with multiproofs")
struct MerkleTreeTests {
    /// The protocol's style of prefix: a length byte, then the label.
    static let prefix: [UInt8] = {
        let label = Array("secagg/v2/merkle-node".utf8)
        return [UInt8(label.count)] + label
    }()

    // MARK: Known answers, computed here with Blake2b.hash directly

    @Test("Known roots for 1, 2, 3 and 5 leaves")
    func knownAnswers() throws {
        let leaves = (0..<5).map { Blake2b.hash(Array("leaf \($0)".utf8)) }
        func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
            Blake2b.hash(Self.prefix + left + right)
        }

        // n = 1: the root is the leaf itself.
        #expect(try MerkleTree(leaves: [leaves[0]], nodePrefix: Self.prefix).root == leaves[0])

        // n = 2.
        let root2 = node(leaves[0], leaves[1])
        #expect(try MerkleTree(leaves: Array(leaves[..<2]), nodePrefix: Self.prefix).root == root2)

        // n = 3: the third leaf is promoted to level 1.
        let root3 = node(node(leaves[0], leaves[1]), leaves[2])
        #expect(try MerkleTree(leaves: Array(leaves[..<3]), nodePrefix: Self.prefix).root == root3)

        // n = 5: leaf 4 is promoted twice (levels 1 and 2), then paired at level 2 → 3.
        let root5 = node(node(node(leaves[0], leaves[1]), node(leaves[2], leaves[3])), leaves[4])
        let tree5 = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        #expect(tree5.root == root5)
        #expect(tree5.leafCount == 5)

        // The prefix is part of every node hash; with n = 1 there is no node hash.
        #expect(try MerkleTree(leaves: leaves, nodePrefix: []).root != root5)
        #expect(try MerkleTree(leaves: [leaves[0]], nodePrefix: []).root == leaves[0])

        // Proofs in walk order for n = 5.
        // {4}: level 0 promoted, level 1 promoted (width 3, sibling 3 ≥ 3), level 2 sibling 0.
        #expect(try tree5.proof(for: [4]) == [node(node(leaves[0], leaves[1]), node(leaves[2], leaves[3]))])
        // {1, 2}: level 0 emits leaf 0 then leaf 3; level 1 {0, 1} both known; level 2 sibling 1 = leaf 4.
        #expect(try tree5.proof(for: [1, 2]) == [leaves[0], leaves[3], leaves[4]])
        #expect(try tree5.proof(for: [0, 1, 2, 3, 4]).isEmpty)
    }

    // MARK: Round trips against an independent reference

    @Test("Proofs verify, reproduce the root and match the reference walk", arguments: 1...40)
    func roundTrip(leafCount: Int) throws {
        var rng = SplitMix64(seed: UInt64(leafCount))
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        let levels = referenceLevels(leaves, prefix: Self.prefix)
        #expect(tree.root == levels.last![0])
        #expect(tree.leafCount == leafCount)

        var subsets = [Array(0..<leafCount)] + (0..<leafCount).map { [$0] }
        for _ in 0..<60 {
            let density = rng.next() % 100
            var subset = (0..<leafCount).filter { _ in rng.next() % 100 <= density }
            if subset.isEmpty { subset = [Int(rng.next() % UInt64(leafCount))] }
            subsets.append(subset)
        }
        for positions in subsets {
            let proof = try tree.proof(for: positions)
            #expect(proof == referenceProof(levels, positions: positions), "positions \(positions)")
            #expect(try MerkleTree.proofLength(leafCount: leafCount, positions: positions) == proof.count)
            let known = positions.map { (position: $0, digest: leaves[$0]) }
            #expect(
                try MerkleTree.root(leafCount: leafCount, leaves: known, proof: proof, nodePrefix: Self.prefix)
                    == tree.root)
            #expect(
                MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: known, proof: proof, nodePrefix: Self.prefix))
            if positions.count == leafCount {
                #expect(proof.isEmpty)
            }
            if positions.count == 1 {
                #expect(proof.count <= ceilLog2(leafCount))
            }
        }
    }

    @Test("A contiguous range of leaves in a 2^14-leaf tree needs at most 2·14 proof elements")
    func contiguousRanges() throws {
        let leafCount = 1 << 14
        var rng = SplitMix64(seed: 14)
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        var ranges: [Range<Int>] = [0..<1, 0..<leafCount, 1..<(leafCount - 1), (leafCount - 1)..<leafCount]
        for _ in 0..<200 {
            let start = Int(rng.next() % UInt64(leafCount))
            let maxLength = leafCount - start
            let length = 1 + Int(rng.next() % UInt64(rng.next() % 2 == 0 ? min(64, maxLength) : maxLength))
            ranges.append(start..<(start + length))
        }
        for range in ranges {
            let positions = Array(range)
            let proof = try tree.proof(for: positions)
            #expect(proof.count <= 2 * 14, "range \(range)")
            #expect(try MerkleTree.proofLength(leafCount: leafCount, positions: positions) == proof.count)
            let known = positions.map { (position: $0, digest: leaves[$0]) }
            #expect(
                MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: known, proof: proof, nodePrefix: Self.prefix))
        }
    }

    // MARK: Rejection

    @Test("Flipping any bit of any proof element or leaf is rejected", arguments: [3, 5, 13, 32, 37])
    func bitFlips(leafCount: Int) throws {
        var rng = SplitMix64(seed: 1000 + UInt64(leafCount))
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        let positions = leafCount <= 3 ? [0, 1] : [0, leafCount / 2, leafCount - 1]
        let proof = try tree.proof(for: positions)
        #expect(!proof.isEmpty)
        let known = positions.map { (position: $0, digest: leaves[$0]) }

        for element in proof.indices {
            for bit in 0..<(32 * 8) {
                var tampered = proof
                tampered[element] = flippingBit(proof[element], at: bit / 8, bit: bit % 8)
                let computed = try MerkleTree.root(
                    leafCount: leafCount, leaves: known, proof: tampered, nodePrefix: Self.prefix)
                #expect(computed != tree.root)
                #expect(
                    !MerkleTree.verify(
                        root: tree.root, leafCount: leafCount, leaves: known, proof: tampered,
                        nodePrefix: Self.prefix))
            }
        }
        for leaf in known.indices {
            for bit in 0..<(32 * 8) {
                var tampered = known
                tampered[leaf].digest = flippingBit(known[leaf].digest, at: bit / 8, bit: bit % 8)
                let computed = try MerkleTree.root(
                    leafCount: leafCount, leaves: tampered, proof: proof, nodePrefix: Self.prefix)
                #expect(computed != tree.root)
                #expect(
                    !MerkleTree.verify(
                        root: tree.root, leafCount: leafCount, leaves: tampered, proof: proof,
                        nodePrefix: Self.prefix))
            }
        }
        // A flipped root bit or another prefix. (Not another leaf count: the root does not bind it.)
        #expect(
            !MerkleTree.verify(
                root: flippingBit(tree.root, at: 31, bit: 7), leafCount: leafCount, leaves: known, proof: proof,
                nodePrefix: Self.prefix))
        #expect(
            !MerkleTree.verify(
                root: tree.root, leafCount: leafCount, leaves: known, proof: proof, nodePrefix: Self.prefix + [0]))
    }

    @Test("A leaf claimed at a wrong position is rejected")
    func wrongPositions() throws {
        for leafCount in 2...24 {
            var rng = SplitMix64(seed: 2000 + UInt64(leafCount))
            let leaves = randomLeaves(leafCount, &rng)
            let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
            for position in 0..<leafCount {
                let proof = try tree.proof(for: [position])
                for wrong in 0..<leafCount where wrong != position {
                    let claimed = [(position: wrong, digest: leaves[position])]
                    #expect(
                        !MerkleTree.verify(
                            root: tree.root, leafCount: leafCount, leaves: claimed, proof: proof,
                            nodePrefix: Self.prefix), "n \(leafCount), leaf \(position) claimed at \(wrong)")
                }
            }
            // Two known leaves with their digests swapped.
            let positions = [0, leafCount - 1]
            let proof = try tree.proof(for: positions)
            let swapped = [(position: 0, digest: leaves[leafCount - 1]), (position: leafCount - 1, digest: leaves[0])]
            #expect(
                !MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: swapped, proof: proof, nodePrefix: Self.prefix))
        }
    }

    @Test("A dropped or an extra proof element is rejected")
    func wrongProofLength() throws {
        var rng = SplitMix64(seed: 3000)
        let leafCount = 29
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        let positions = [3, 4, 17]
        let proof = try tree.proof(for: positions)
        let known = positions.map { (position: $0, digest: leaves[$0]) }
        var variants: [[[UInt8]]] = [proof + [proof[0]], proof + [[UInt8](repeating: 0, count: 32)], [proof[0]] + proof]
        for index in proof.indices {
            var dropped = proof
            dropped.remove(at: index)
            variants.append(dropped)
        }
        for variant in variants {
            #expect(throws: MerkleError.wrongProofLength(expected: proof.count, actual: variant.count)) {
                try MerkleTree.root(leafCount: leafCount, leaves: known, proof: variant, nodePrefix: Self.prefix)
            }
            #expect(
                !MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: known, proof: variant, nodePrefix: Self.prefix))
        }
        // The proof of all leaves is empty, so any element is extra.
        let all = leaves.enumerated().map { (position: $0.offset, digest: $0.element) }
        #expect(throws: MerkleError.wrongProofLength(expected: 0, actual: 1)) {
            try MerkleTree.root(leafCount: leafCount, leaves: all, proof: [leaves[0]], nodePrefix: Self.prefix)
        }
        #expect(try MerkleTree.root(leafCount: leafCount, leaves: all, proof: [], nodePrefix: Self.prefix) == tree.root)
    }

    @Test("Empty, unsorted, duplicate and out-of-range positions are rejected")
    func badPositions() throws {
        var rng = SplitMix64(seed: 4000)
        let leafCount = 10
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        let validProof = try tree.proof(for: [2, 5])
        let cases: [(positions: [Int], error: MerkleError)] = [
            ([], .noPositions),
            ([5, 2], .positionsNotIncreasing(index: 1)),
            ([2, 2], .positionsNotIncreasing(index: 1)),
            ([1, 4, 3], .positionsNotIncreasing(index: 2)),
            ([10], .positionOutOfRange(position: 10, leafCount: 10)),
            ([2, 5, 11], .positionOutOfRange(position: 11, leafCount: 10)),
            ([-1, 2], .positionOutOfRange(position: -1, leafCount: 10)),
            ([Int.min], .positionOutOfRange(position: Int.min, leafCount: 10)),
            ([Int.max], .positionOutOfRange(position: Int.max, leafCount: 10)),
        ]
        for (positions, error) in cases {
            #expect(throws: error) { try tree.proof(for: positions) }
            #expect(throws: error) { try MerkleTree.proofLength(leafCount: leafCount, positions: positions) }
            let known = positions.map { (position: $0, digest: leaves[0]) }
            #expect(throws: error) {
                try MerkleTree.root(leafCount: leafCount, leaves: known, proof: validProof, nodePrefix: Self.prefix)
            }
            #expect(
                !MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: known, proof: validProof,
                    nodePrefix: Self.prefix))
        }
        for badCount in [0, -1, Int.min] {
            #expect(throws: MerkleError.invalidLeafCount(badCount)) {
                try MerkleTree.proofLength(leafCount: badCount, positions: [0])
            }
            #expect(throws: MerkleError.invalidLeafCount(badCount)) {
                try MerkleTree.root(
                    leafCount: badCount, leaves: [(position: 0, digest: leaves[0])], proof: [], nodePrefix: [])
            }
        }
        // A huge leaf count from a decoder neither overflows nor allocates by leaf count.
        #expect(try MerkleTree.proofLength(leafCount: Int.max, positions: [0, Int.max - 1]) > 0)
    }

    @Test("Digests that are not 32 bytes are rejected")
    func wrongLengths() throws {
        var rng = SplitMix64(seed: 5000)
        let leafCount = 7
        let leaves = randomLeaves(leafCount, &rng)
        #expect(throws: MerkleError.invalidLeafCount(0)) { try MerkleTree(leaves: [], nodePrefix: Self.prefix) }
        for length in [0, 31, 33, 64] {
            var bad = leaves
            bad[3] = [UInt8](repeating: 7, count: length)
            #expect(throws: MerkleError.invalidLeafLength(index: 3, actual: length)) {
                try MerkleTree(leaves: bad, nodePrefix: Self.prefix)
            }
        }

        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        let positions = [1, 6]
        let proof = try tree.proof(for: positions)
        let known = positions.map { (position: $0, digest: leaves[$0]) }
        for length in [0, 31, 33] {
            var badLeaf = known
            badLeaf[1].digest = Array(leaves[6].prefix(length)) + [UInt8](repeating: 1, count: max(0, length - 32))
            #expect(throws: MerkleError.invalidLeafLength(index: 1, actual: length)) {
                try MerkleTree.root(leafCount: leafCount, leaves: badLeaf, proof: proof, nodePrefix: Self.prefix)
            }
            #expect(
                !MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: badLeaf, proof: proof, nodePrefix: Self.prefix))

            var badProof = proof
            badProof[badProof.count - 1] = Array(proof[proof.count - 1].prefix(length))
                + [UInt8](repeating: 1, count: max(0, length - 32))
            #expect(throws: MerkleError.invalidProofElementLength(index: proof.count - 1, actual: length)) {
                try MerkleTree.root(leafCount: leafCount, leaves: known, proof: badProof, nodePrefix: Self.prefix)
            }
            #expect(
                !MerkleTree.verify(
                    root: tree.root, leafCount: leafCount, leaves: known, proof: badProof, nodePrefix: Self.prefix))
        }
        // A root of the wrong length never verifies.
        #expect(
            !MerkleTree.verify(
                root: Array(tree.root.prefix(31)), leafCount: leafCount, leaves: known, proof: proof,
                nodePrefix: Self.prefix))
    }

    @Test("Errors describe themselves")
    func descriptions() {
        let errors: [MerkleError] = [
            .invalidLeafCount(0), .invalidLeafLength(index: 1, actual: 31),
            .invalidProofElementLength(index: 2, actual: 33), .noPositions, .positionsNotIncreasing(index: 3),
            .positionOutOfRange(position: 9, leafCount: 4), .wrongProofLength(expected: 5, actual: 6),
        ]
        let descriptions = errors.map(\.description)
        #expect(Set(descriptions).count == errors.count)
        #expect(descriptions.allSatisfy { $0.hasPrefix("Merkle") })
    }

    // MARK: Scale

    @Test("100,000 leaves: build, prove 35 random positions, verify")
    func large() throws {
        let leafCount = 100_000
        var rng = SplitMix64(seed: 6000)
        let leaves = randomLeaves(leafCount, &rng)
        let tree = try MerkleTree(leaves: leaves, nodePrefix: Self.prefix)
        var chosen = Set<Int>()
        while chosen.count < 35 { chosen.insert(Int(rng.next() % UInt64(leafCount))) }
        let positions = chosen.sorted()
        let proof = try tree.proof(for: positions)
        #expect(try MerkleTree.proofLength(leafCount: leafCount, positions: positions) == proof.count)
        #expect(proof.count <= 35 * ceilLog2(leafCount))
        let known = positions.map { (position: $0, digest: leaves[$0]) }
        #expect(
            MerkleTree.verify(
                root: tree.root, leafCount: leafCount, leaves: known, proof: proof, nodePrefix: Self.prefix))
        #expect(
            !MerkleTree.verify(
                root: flippingBit(tree.root, at: 0), leafCount: leafCount, leaves: known, proof: proof,
                nodePrefix: Self.prefix))
    }
}

// MARK: - Helpers

/// SplitMix64 (Steele, Lea and Flood 2014): a small deterministic generator for test data.
private struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// `count` pseudo-random 32-byte leaves.
private func randomLeaves(_ count: Int, _ rng: inout SplitMix64) -> [[UInt8]] {
    (0..<count).map { _ in
        (0..<4).flatMap { _ in withUnsafeBytes(of: rng.next().littleEndian) { Array($0) } }
    }
}

/// ⌈log2 n⌉ for n ≥ 1.
private func ceilLog2(_ n: Int) -> Int {
    n <= 1 ? 0 : Int.bitWidth - (n - 1).leadingZeroBitCount
}

/// Every level of the tree, built node by node with Blake2b.hash (level 0 = leaves, last = [root]).
private func referenceLevels(_ leaves: [[UInt8]], prefix: [UInt8]) -> [[[UInt8]]] {
    var levels = [leaves]
    while levels[levels.count - 1].count > 1 {
        let below = levels[levels.count - 1]
        levels.append(
            stride(from: 0, to: below.count, by: 2).map { i in
                i + 1 < below.count ? Blake2b.hash(prefix + below[i] + below[i + 1]) : below[i]
            })
    }
    return levels
}

/// The multiproof exactly as the normative text words it, with sets.
private func referenceProof(_ levels: [[[UInt8]]], positions: [Int]) -> [[UInt8]] {
    var known = positions
    var proof = [[UInt8]]()
    for level in levels where level.count > 1 {
        let knownSet = Set(known)
        for p in known {
            if p % 2 == 1 && knownSet.contains(p - 1) { continue }
            let s = p ^ 1
            if s >= level.count || knownSet.contains(s) { continue }
            proof.append(level[s])
        }
        known = Set(known.map { $0 >> 1 }).sorted()
    }
    return proof
}
