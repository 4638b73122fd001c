import CSodium

/// A BLAKE2b Merkle tree over caller-hashed leaves, with multiproofs (protocol v2: each client receives its
/// neighbours' leaves and one combined proof against a root that commits to every leaf).
///
/// Construction (normative):
/// - The tree has n ≥ 1 leaves, each a 32-byte digest supplied by the caller (who hashes its own leaf data
///   under its own labels).
/// - Level 0 is the list of leaves in order. Level j+1 is built from level j (m nodes): for i in
///   0..<⌈m/2⌉, if 2i+1 < m the node is BLAKE2b-256 (unkeyed, 32-byte digest) of
///   `nodePrefix ‖ left ‖ right` with left = node 2i and right = node 2i+1; otherwise (odd last node) node 2i
///   is promoted unchanged. The root is the single node of the top level (n = 1: the root is the leaf).
/// - `nodePrefix` is caller-supplied domain separation, e.g. `[UInt8(len)] + "secagg/v2/merkle-node"`.
///
/// Multiproof for strictly increasing leaf positions P (each < n): walk the levels bottom-up with the known
/// set K = P. At a level with m nodes, for each p in K in increasing order, skipping an odd p whose left
/// sibling p − 1 is also in K (that pair was handled at p − 1): let s = p ^ 1; if s ≥ m the node is promoted;
/// else if s is in K both are known; else the hash of node s is the next proof element. The next level's K
/// is the sorted unique set of p >> 1. Stop when m = 1. The proof is the list of those sibling hashes in the
/// order emitted: empty when P holds every leaf; P must not be empty.
///
/// Verification recomputes the root from n, the known leaves with their positions and the proof, consuming
/// proof elements in the same order, and rejects a proof with missing or unused elements. The root does not
/// commit to n (a promoted node of an n-leaf tree reads as an inner node of a larger one): verifiers must take
/// n from an authenticated source, e.g. signed together with the root.
///
/// Each level is stored as one flat byte array (32 bytes a node): building costs n − 1 hashes and about
/// 64n bytes; a proof is read from the stored levels without hashing, in O(|P| · log n).
public struct MerkleTree: Sendable {
    /// Bytes of a leaf, an inner node, the root and every proof element.
    public static let digestByteCount = 32

    /// `levels[0]` holds the leaves, the last level the root; node i of a level is bytes 32i..<32i+32.
    private let levels: [[UInt8]]

    /// The number of leaves.
    public let leafCount: Int

    /// Builds the tree over `leaves` (in order) with `nodePrefix` before each pair of children.
    ///
    /// - Throws: ``MerkleError/invalidLeafCount(_:)`` if `leaves` is empty,
    ///   ``MerkleError/invalidLeafLength(index:actual:)`` if a leaf is not 32 bytes.
    public init(leaves: [[UInt8]], nodePrefix: [UInt8]) throws(MerkleError) {
        guard !leaves.isEmpty else { throw .invalidLeafCount(0) }
        let size = Self.digestByteCount
        var base = [UInt8]()
        base.reserveCapacity(leaves.count * size)
        for (index, leaf) in leaves.enumerated() {
            guard leaf.count == size else { throw .invalidLeafLength(index: index, actual: leaf.count) }
            base.append(contentsOf: leaf)
        }
        var levels = [base]
        var hasher = NodeHasher(prefix: nodePrefix)
        var count = leaves.count
        while count > 1 {
            let nextCount = (count + 1) / 2
            let below = levels[levels.count - 1]
            let next = [UInt8](unsafeUninitializedCapacity: nextCount * size) { out, initialized in
                below.withUnsafeBufferPointer { nodes in
                    let input = nodes.baseAddress!
                    let output = out.baseAddress!
                    for i in 0..<nextCount {
                        if 2 * i + 1 < count {
                            hasher.hash(
                                left: input + 2 * i * size, right: input + (2 * i + 1) * size,
                                into: output + i * size)
                        } else {
                            (output + i * size).initialize(from: input + 2 * i * size, count: size)
                        }
                    }
                }
                initialized = nextCount * size
            }
            levels.append(next)
            count = nextCount
        }
        self.levels = levels
        leafCount = leaves.count
    }

    /// The root: the commitment to every leaf and its position (32 bytes).
    public var root: [UInt8] {
        levels[levels.count - 1]
    }

    /// The multiproof for the leaves at `positions`: the sibling hashes a verifier needs, in walk order.
    ///
    /// - Throws: ``MerkleError/noPositions``, ``MerkleError/positionsNotIncreasing(index:)`` or
    ///   ``MerkleError/positionOutOfRange(position:leafCount:)`` unless `positions` is non-empty, strictly
    ///   increasing and below ``leafCount``.
    public func proof(for positions: [Int]) throws(MerkleError) -> [[UInt8]] {
        let bytes = try proofBytes(for: positions)
        let size = Self.digestByteCount
        return stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<$0 + size]) }
    }

    /// The same multiproof as ``proof(for:)``, its digests concatenated in one array (one allocation, however
    /// long the proof: what a coordinator building a proof per client keeps in memory).
    ///
    /// - Throws: the errors of ``proof(for:)``.
    public func proofBytes(for positions: [Int]) throws(MerkleError) -> [UInt8] {
        try Self.checkPositions(positions, leafCount: leafCount)
        let size = Self.digestByteCount
        var proof = [UInt8]()
        Self.walk(leafCount: leafCount, positions: positions) { level, sibling in
            proof.append(contentsOf: levels[level][sibling * size..<(sibling + 1) * size])
        }
        return proof
    }

    /// The exact number of elements of the proof for `positions` in a tree of `leafCount` leaves, computed
    /// without hashing (so decoders can bound a proof's size before reading it).
    ///
    /// - Throws: ``MerkleError/invalidLeafCount(_:)`` if `leafCount` < 1, and the position errors of
    ///   ``proof(for:)``.
    public static func proofLength(leafCount: Int, positions: [Int]) throws(MerkleError) -> Int {
        guard leafCount >= 1 else { throw .invalidLeafCount(leafCount) }
        try checkPositions(positions, leafCount: leafCount)
        var length = 0
        walk(leafCount: leafCount, positions: positions) { _, _ in length += 1 }
        return length
    }

    /// Recomputes the root of a `leafCount`-leaf tree from some of its leaves and their multiproof.
    ///
    /// The result is meaningful only when compared with a trusted root;
    /// ``verify(root:leafCount:leaves:proof:nodePrefix:)`` does that in constant time.
    ///
    /// - Throws: ``MerkleError/invalidLeafCount(_:)`` if `leafCount` < 1; the position errors of
    ///   ``proof(for:)`` unless the leaves' positions are non-empty, strictly increasing and below `leafCount`;
    ///   ``MerkleError/invalidLeafLength(index:actual:)`` or
    ///   ``MerkleError/invalidProofElementLength(index:actual:)`` if a digest is not 32 bytes;
    ///   ``MerkleError/wrongProofLength(expected:actual:)`` if the proof has missing or unused elements.
    public static func root(
        leafCount: Int, leaves: [(position: Int, digest: [UInt8])], proof: [[UInt8]], nodePrefix: [UInt8]
    ) throws(MerkleError) -> [UInt8] {
        let expected = try proofLength(leafCount: leafCount, positions: leaves.map(\.position))
        guard proof.count == expected else { throw .wrongProofLength(expected: expected, actual: proof.count) }
        for (index, element) in proof.enumerated() where element.count != digestByteCount {
            throw .invalidProofElementLength(index: index, actual: element.count)
        }
        return try root(leafCount: leafCount, leaves: leaves, proofBytes: proof.flatMap { $0 }, nodePrefix: nodePrefix)
    }

    /// ``root(leafCount:leaves:proof:nodePrefix:)`` with the proof's digests concatenated in `proofBytes`.
    ///
    /// - Throws: the errors of ``root(leafCount:leaves:proof:nodePrefix:)``;
    ///   ``MerkleError/wrongProofLength(expected:actual:)`` also when `proofBytes` is not a whole number of digests
    ///   (its `actual` then counts started digests).
    public static func root(
        leafCount: Int, leaves: [(position: Int, digest: [UInt8])], proofBytes proof: [UInt8], nodePrefix: [UInt8]
    ) throws(MerkleError) -> [UInt8] {
        let size = digestByteCount
        var positions = leaves.map(\.position)
        let expected = try proofLength(leafCount: leafCount, positions: positions)
        guard proof.count == expected * size else {
            throw .wrongProofLength(expected: expected, actual: (proof.count + size - 1) / size)
        }
        var digests = [UInt8]()
        digests.reserveCapacity(leaves.count * size)
        for (index, leaf) in leaves.enumerated() {
            guard leaf.digest.count == size else {
                throw .invalidLeafLength(index: index, actual: leaf.digest.count)
            }
            digests.append(contentsOf: leaf.digest)
        }

        // The walk of `walk(leafCount:positions:sibling:)`, carrying each known node's digest; the next
        // level's entries are written in place (the write index never passes the read index).
        var hasher = NodeHasher(prefix: nodePrefix)
        var count = positions.count
        var width = leafCount
        var used = 0
        digests.withUnsafeMutableBufferPointer { buffer in
            let known = buffer.baseAddress!
            while width > 1 {
                var read = 0
                var write = 0
                while read < count {
                    let position = positions[read]
                    let sibling = position ^ 1
                    let node = known + read * size
                    let target = known + write * size
                    if sibling >= width {
                        if write != read { target.update(from: node, count: size) }
                        read += 1
                    } else if position & 1 == 0 && read + 1 < count && positions[read + 1] == sibling {
                        hasher.hash(left: node, right: node + size, into: target)
                        read += 2
                    } else {
                        proof.withUnsafeBufferPointer { elements in
                            let other = elements.baseAddress! + used * size
                            if position & 1 == 0 {
                                hasher.hash(left: node, right: other, into: target)
                            } else {
                                hasher.hash(left: other, right: node, into: target)
                            }
                        }
                        used += 1
                        read += 1
                    }
                    positions[write] = position >> 1
                    write += 1
                }
                count = write
                width -= width / 2  // ⌈width / 2⌉ without overflow
            }
        }
        // `proofLength` counted exactly the elements the walk consumed.
        assert(used * size == proof.count && count == 1)
        return Array(digests[0..<size])
    }

    /// Whether `leaves` and `proof` recompute `root` (compared in constant time); `false` on any error of
    /// ``root(leafCount:leaves:proof:nodePrefix:)``.
    public static func verify(
        root: [UInt8], leafCount: Int, leaves: [(position: Int, digest: [UInt8])], proof: [[UInt8]],
        nodePrefix: [UInt8]
    ) -> Bool {
        guard
            let computed = try? Self.root(
                leafCount: leafCount, leaves: leaves, proof: proof, nodePrefix: nodePrefix)
        else { return false }
        return constantTimeEquals(computed, root)
    }

    /// ``verify(root:leafCount:leaves:proof:nodePrefix:)`` with the proof's digests concatenated in `proofBytes`.
    public static func verify(
        root: [UInt8], leafCount: Int, leaves: [(position: Int, digest: [UInt8])], proofBytes: [UInt8],
        nodePrefix: [UInt8]
    ) -> Bool {
        guard
            let computed = try? Self.root(
                leafCount: leafCount, leaves: leaves, proofBytes: proofBytes, nodePrefix: nodePrefix)
        else { return false }
        return constantTimeEquals(computed, root)
    }

    /// Throws unless `positions` is non-empty, strictly increasing and within 0..<leafCount.
    private static func checkPositions(_ positions: [Int], leafCount: Int) throws(MerkleError) {
        guard !positions.isEmpty else { throw .noPositions }
        for (index, position) in positions.enumerated() {
            guard position >= 0, position < leafCount else {
                throw .positionOutOfRange(position: position, leafCount: leafCount)
            }
            guard index == 0 || positions[index - 1] < position else {
                throw .positionsNotIncreasing(index: index)
            }
        }
    }

    /// The multiproof walk over validated `positions`: calls `sibling(level, index)` for each proof element,
    /// in proof order.
    private static func walk(leafCount: Int, positions: [Int], sibling: (Int, Int) -> Void) {
        var known = positions
        var count = known.count
        var width = leafCount
        var level = 0
        while width > 1 {
            var read = 0
            var write = 0
            while read < count {
                let position = known[read]
                let other = position ^ 1
                if other >= width {
                    read += 1
                } else if position & 1 == 0 && read + 1 < count && known[read + 1] == other {
                    read += 2
                } else {
                    sibling(level, other)
                    read += 1
                }
                known[write] = position >> 1
                write += 1
            }
            count = write
            width -= width / 2  // ⌈width / 2⌉ without overflow
            level += 1
        }
    }
}

/// Hashes `prefix ‖ left ‖ right` for many node pairs through one reusable input buffer.
private struct NodeHasher {
    private var input: [UInt8]
    private let prefixCount: Int

    init(prefix: [UInt8]) {
        Sodium.initialize()
        prefixCount = prefix.count
        input = prefix + [UInt8](repeating: 0, count: 2 * MerkleTree.digestByteCount)
    }

    /// Writes BLAKE2b-256(prefix ‖ left ‖ right) to `output`; `output` may alias `left` or `right`.
    mutating func hash(
        left: UnsafePointer<UInt8>, right: UnsafePointer<UInt8>, into output: UnsafeMutablePointer<UInt8>
    ) {
        let size = MerkleTree.digestByteCount
        let offset = prefixCount
        input.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            (base + offset).update(from: left, count: size)
            (base + offset + size).update(from: right, count: size)
            // Never fails with a 32-byte output and no key.
            _ = crypto_generichash(output, size, base, UInt64(buffer.count), nil, 0)
        }
    }
}

/// Errors of ``MerkleTree``: malformed trees, positions, digests or proofs.
public enum MerkleError: Error, Equatable, Sendable {
    /// A tree needs at least one leaf; the associated value is the leaf count given.
    case invalidLeafCount(Int)

    /// The leaf at `index` (of the list given) is not 32 bytes.
    case invalidLeafLength(index: Int, actual: Int)

    /// Proof element `index` is not 32 bytes.
    case invalidProofElementLength(index: Int, actual: Int)

    /// A proof must cover at least one position.
    case noPositions

    /// Position `index` is not greater than the one before it (positions must be sorted and unique).
    case positionsNotIncreasing(index: Int)

    /// A position is negative or not below the leaf count.
    case positionOutOfRange(position: Int, leafCount: Int)

    /// The proof does not have exactly the number of elements the positions and leaf count call for.
    case wrongProofLength(expected: Int, actual: Int)
}

extension MerkleError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidLeafCount(let count):
            "Merkle tree needs at least one leaf, got \(count)"
        case .invalidLeafLength(let index, let actual):
            "Merkle leaf \(index) has \(actual) bytes, expected \(MerkleTree.digestByteCount)"
        case .invalidProofElementLength(let index, let actual):
            "Merkle proof element \(index) has \(actual) bytes, expected \(MerkleTree.digestByteCount)"
        case .noPositions:
            "Merkle proof needs at least one leaf position"
        case .positionsNotIncreasing(let index):
            "Merkle leaf positions must be strictly increasing, position \(index) is not"
        case .positionOutOfRange(let position, let leafCount):
            "Merkle leaf position \(position) is outside 0..<\(leafCount)"
        case .wrongProofLength(let expected, let actual):
            "Merkle proof has \(actual) elements, expected \(expected)"
        }
    }
}
