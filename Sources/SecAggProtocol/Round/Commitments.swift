import SecAggCrypto
import SecAggMath
import SecAggWire

/// The coordinator's commitment to U1 (SPEC §5.13): a Merkle tree over one leaf per invited index, in index order,
/// holding the participant's advertisement or marking it absent. Its root enters the session id, so every client
/// that computes the session id agrees on all of U1 while receiving only its neighbours' entries.
public struct AdvertisementTree: Sendable {
    /// n: the invited count, one slot per participant index (slot = index − 1).
    public let invitedCount: Int
    /// |U1|.
    public let advertisedCount: UInt32
    private let tree: MerkleTree
    /// U1's advertisements, sorted by index.
    private let advertisements: [KeyAdvertisement]

    /// Builds the tree over `invitedCount` slots from the advertisements of U1 (sorted by index, each index in
    /// 1...invitedCount, no duplicates).
    ///
    /// - Throws: ``UsageError/invalidRoster(_:)`` for an index outside 1...invitedCount or out of order.
    public init(invitedCount: Int, advertisements: [KeyAdvertisement]) throws(UsageError) {
        guard invitedCount >= 1 else { throw .invalidRoster("a round invites at least one participant") }
        var byIndex = [KeyAdvertisement?](repeating: nil, count: invitedCount)
        var previous: ParticipantIndex = 0
        for advertisement in advertisements {
            guard advertisement.index > previous, Int(advertisement.index) <= invitedCount else {
                throw .invalidRoster("advertisement of participant \(advertisement.index) out of order or range")
            }
            previous = advertisement.index
            byIndex[Int(advertisement.index) - 1] = advertisement
        }
        let leaves = byIndex.enumerated().map { slot, advertisement in
            Derivation.advertisementLeaf(index: ParticipantIndex(slot + 1), advertisement: advertisement)
        }
        do {
            tree = try MerkleTree(leaves: leaves, nodePrefix: Derivation.merkleNodePrefix)
        } catch {
            preconditionFailure("a non-empty list of 32-byte leaves always builds: \(error)")
        }
        self.invitedCount = invitedCount
        self.advertisedCount = UInt32(advertisements.count)
        self.advertisements = advertisements
    }

    /// The root (u1_root).
    public var root: [UInt8] { tree.root }

    /// The ShareKeysRequest for `recipient` (SPEC §4.4): the advertisements of the recipient and of its neighbours
    /// that are in U1, and a proof for the slots of the recipient and of all its neighbours.
    public func request(
        for recipient: ParticipantIndex, neighbours: [ParticipantIndex], roundID: RoundID
    ) -> ShareKeysRequest {
        let proven = ([recipient] + neighbours).sorted()
        let listed = proven.compactMap { index in advertisements.binarySearch(index: index) }
        let proof: [UInt8]
        do {
            proof = try tree.proofBytes(for: proven.map { Int($0) - 1 })
        } catch {
            preconditionFailure("graph neighbours are distinct invited indices: \(error)")
        }
        return ShareKeysRequest(
            roundID: roundID, advertisedCount: advertisedCount, advertisementRoot: root, advertisements: listed,
            proof: DigestList(concatenated: proof))
    }

    /// The ShareKeysRequests of `recipients`, each built only when asked for (``ShareKeysRequests``).
    func requests(for recipients: [ParticipantIndex], graph: NeighborGraph, roundID: RoundID) -> ShareKeysRequests {
        ShareKeysRequests(recipients: recipients, tree: self, graph: graph, roundID: roundID)
    }

    /// Checks a ShareKeysRequest as its `recipient` must (SPEC §8.1): the listed advertisements are the
    /// recipient's and its neighbours' only, and the proof opens the recipient's and every neighbour's slot — to a
    /// listed advertisement or to the absent leaf — under the request's root.
    ///
    /// - Returns: the listed advertisements by index.
    /// - Throws: ``ProtocolViolation/inconsistentView(reason:)`` naming what does not hold.
    public static func verify(
        _ request: ShareKeysRequest, recipient: ParticipantIndex, neighbours: [ParticipantIndex], invitedCount: Int
    ) throws(ProtocolViolation) -> [ParticipantIndex: KeyAdvertisement] {
        let proven = ([recipient] + neighbours).sorted()
        var listed: [ParticipantIndex: KeyAdvertisement] = [:]
        for advertisement in request.advertisements {
            guard proven.binarySearchContains(advertisement.index) else {
                throw .inconsistentView(reason: "advertisement of participant \(advertisement.index), who is not a neighbour")
            }
            listed[advertisement.index] = advertisement
        }
        let leaves = proven.map { index in
            (position: Int(index) - 1, digest: Derivation.advertisementLeaf(index: index, advertisement: listed[index]))
        }
        guard MerkleTree.verify(
            root: request.advertisementRoot, leafCount: invitedCount, leaves: leaves, proofBytes: request.proof.bytes,
            nodePrefix: Derivation.merkleNodePrefix)
        else {
            throw .inconsistentView(reason: "the advertisements and absences do not match the U1 root (bad inclusion proof)")
        }
        return listed
    }
}

/// The coordinator's commitment to U3 (SPEC §5.13): a Merkle tree over one leaf per invited participant, in
/// ring-position order, holding whether it is in U3. Its root is what clients sign in active mode; each client
/// gets the statuses of itself and its neighbours (a run of ring positions) with a short proof.
public struct SurvivorTree: Sendable {
    /// |U3|.
    public let survivorCount: UInt32
    private let tree: MerkleTree
    private let graph: NeighborGraph
    /// Status by ring position.
    private let statuses: [Bool]

    /// Builds the tree for `survivors` (U3) on `graph` (over the invited indices).
    public init(graph: NeighborGraph, survivors: Set<ParticipantIndex>) {
        let size = graph.ringSize
        var statuses = [Bool](repeating: false, count: size)
        var leaves: [[UInt8]] = []
        leaves.reserveCapacity(size)
        for position in 0..<size {
            guard let participant = graph.participant(atRingPosition: position) else {
                preconditionFailure("every ring position holds a participant")
            }
            let survived = survivors.contains(participant)
            statuses[position] = survived
            leaves.append(Derivation.survivorLeaf(index: participant, survived: survived))
        }
        do {
            tree = try MerkleTree(leaves: leaves, nodePrefix: Derivation.merkleNodePrefix)
        } catch {
            preconditionFailure("a non-empty list of 32-byte leaves always builds: \(error)")
        }
        self.graph = graph
        self.statuses = statuses
        // The count of the leaves marked in U3: an index outside the graph has no leaf and is not counted.
        survivorCount = UInt32(statuses.count { $0 })
    }

    /// The root (survivor_root).
    public var root: [UInt8] { tree.root }

    /// The survivor view of `participant` (SPEC §4.1.9).
    public func view(for participant: ParticipantIndex) -> SurvivorView {
        let positions = Self.provenPositions(of: participant, in: graph)
        let proof: [UInt8]
        do {
            proof = try tree.proofBytes(for: positions)
        } catch {
            preconditionFailure("ring positions of distinct participants are distinct: \(error)")
        }
        return SurvivorView(
            survivorCount: survivorCount, survivorRoot: root, statuses: positions.map { statuses[$0] },
            proof: DigestList(concatenated: proof))
    }

    /// The ring positions a view proves: the participant's and its neighbours', increasing.
    static func provenPositions(of participant: ParticipantIndex, in graph: NeighborGraph) -> [Int] {
        ([participant] + graph.neighbors(of: participant)).compactMap { graph.ringPosition(of: $0) }.sorted()
    }

    /// Checks `view` as `participant` must (SPEC §8.1, the survivor check's proof part).
    ///
    /// - Returns: the status of the participant and of each neighbour, by index.
    /// - Throws: ``ProtocolViolation/inconsistentView(reason:)`` if the statuses do not match the proven slots or
    ///   the proof does not open them under the view's root.
    public static func verify(
        _ view: SurvivorView, participant: ParticipantIndex, graph: NeighborGraph
    ) throws(ProtocolViolation) -> [ParticipantIndex: Bool] {
        let positions = provenPositions(of: participant, in: graph)
        guard view.statuses.count == positions.count else {
            throw .inconsistentView(reason: "\(view.statuses.count) survivor statuses, expected \(positions.count)")
        }
        var byIndex: [ParticipantIndex: Bool] = [:]
        var leaves: [(position: Int, digest: [UInt8])] = []
        leaves.reserveCapacity(positions.count)
        for (position, survived) in zip(positions, view.statuses) {
            guard let index = graph.participant(atRingPosition: position) else {
                preconditionFailure("every ring position holds a participant")
            }
            byIndex[index] = survived
            leaves.append((position, Derivation.survivorLeaf(index: index, survived: survived)))
        }
        guard MerkleTree.verify(
            root: view.survivorRoot, leafCount: graph.ringSize, leaves: leaves, proofBytes: view.proof.bytes,
            nodePrefix: Derivation.merkleNodePrefix)
        else {
            throw .inconsistentView(reason: "the survivor statuses do not match the survivor root (bad inclusion proof)")
        }
        return byIndex
    }
}

extension Array where Element == ParticipantIndex {
    /// Whether the sorted array holds `index` (binary search).
    func binarySearchContains(_ index: ParticipantIndex) -> Bool {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self[middle] < index { low = middle + 1 } else { high = middle }
        }
        return low < count && self[low] == index
    }
}

/// The ShareKeysRequests of a round's members (SPEC §4.4), each built when it is about to be sent.
///
/// A request is the recipient's neighbourhood of U1 with its inclusion proof: ~10 KB at k = 36, N = 1,000. Built
/// all at once they are O(N·k·log N) bytes held together (10 MB at N = 1,000, a gigabyte in a simulation of 10^5
/// clients); built on demand, only those on their way out exist. Holds the tree and the graph, both O(N).
public struct ShareKeysRequests: Sendable {
    /// The members, in index order.
    public let recipients: [ParticipantIndex]
    private let tree: AdvertisementTree
    private let graph: NeighborGraph
    private let roundID: RoundID

    init(recipients: [ParticipantIndex], tree: AdvertisementTree, graph: NeighborGraph, roundID: RoundID) {
        self.recipients = recipients
        self.tree = tree
        self.graph = graph
        self.roundID = roundID
    }

    /// The request for `recipient` (one of ``recipients``).
    public func request(for recipient: ParticipantIndex) -> ShareKeysRequest {
        tree.request(for: recipient, neighbours: graph.neighbors(of: recipient), roundID: roundID)
    }
}
