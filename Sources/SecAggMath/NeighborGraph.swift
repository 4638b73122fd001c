import SecAggCrypto

/// Who shares pairwise masks and Shamir shares with whom in a round.
///
/// Classic SecAgg (Bonawitz et al. 2017) uses the complete graph. SecAgg+ (Bell et al. 2020) uses a Harary graph
/// H(k, n) whose ring positions are labelled by a uniformly random permutation of the participants, drawn from
/// public round randomness (`coin`) so that every party derives the same graph. With the degree and threshold
/// from ``ParameterFinder``, each client then talks to k = O(log n) neighbours instead of n − 1.
///
/// Storage is O(n): the ring labelling and each participant's ring position; neighbour lists are computed on
/// demand in O(k log k), and ``areNeighbors(_:_:)`` is O(log n).
public struct NeighborGraph: Sendable {
    /// The graph family.
    public enum Kind: Sendable, Equatable, Hashable {
        /// Every participant is a neighbour of every other one.
        case complete
        /// A randomly labelled Harary graph of the given degree (complete when `degree ≥ n − 1`).
        case harary(degree: Int)
    }

    /// The requested graph family.
    public let kind: Kind

    /// The participants in ascending order.
    public let participants: [UInt32]

    /// For Harary graphs below the complete degree: the participant at each ring position.
    private let ring: [UInt32]

    /// For Harary graphs below the complete degree: `positions[i]` is the ring position of `participants[i]`.
    private let positions: [Int]

    /// The effective Harary degree k, or nil when the graph is complete.
    private let hararyDegree: Int?

    /// Builds the graph on `participants`.
    ///
    /// For `.harary(k)` the labelling is drawn as follows (normative, see the protocol spec "Graph derivation"):
    /// copy the ascending participant list into `a`; for i from n − 1 down to 1, let
    /// j = `coin.uniform(below: i + 1)` and swap a[i] and a[j]; the participant at ring position p is a[p].
    /// This is Fisher–Yates, so the labelling is uniform; it is drawn even when the result is complete, and
    /// `.complete` draws nothing. On ring positions, H(k, n) connects:
    /// - p with p ± 1, …, p ± ⌊k/2⌋ (mod n);
    /// - if k is odd and n even, also p with p + n/2;
    /// - if k and n are odd, also the pairs (p, p + (n + 1)/2 mod n) for p in 0...(n − 1)/2, which gives the node
    ///   at position 0 degree k + 1 and every other node degree k (the standard Harary construction).
    /// If k ≥ n − 1 the graph is complete. Edges are symmetric.
    ///
    /// - Throws: ``GraphError/empty``, ``GraphError/invalidParticipant(_:)`` for index 0,
    ///   ``GraphError/duplicateParticipant(_:)``, or ``GraphError/invalidDegree(_:)`` for a degree below 1.
    public init(participants: [UInt32], kind: Kind, coin: inout some RandomSource) throws(GraphError) {
        guard !participants.isEmpty else { throw .empty }
        if participants.contains(0) { throw .invalidParticipant(0) }
        let sorted = participants.sorted()
        for index in sorted.indices.dropFirst() where sorted[index] == sorted[index - 1] {
            throw .duplicateParticipant(sorted[index])
        }
        if case .harary(let degree) = kind, degree < 1 { throw .invalidDegree(degree) }

        self.kind = kind
        self.participants = sorted
        let count = sorted.count
        guard case .harary(let degree) = kind else {
            (ring, positions, hararyDegree) = ([], [], nil)
            return
        }

        var labelling = sorted
        var index = count - 1
        while index >= 1 {
            let swapWith = Int(coin.uniform(below: UInt64(index + 1)))
            labelling.swapAt(index, swapWith)
            index -= 1
        }
        guard degree < count - 1 else {
            (ring, positions, hararyDegree) = ([], [], nil)
            return
        }
        var positions = [Int](repeating: 0, count: count)
        for (position, participant) in labelling.enumerated() {
            // `sorted` holds every label exactly once, so the search always succeeds.
            positions[Self.sortedIndex(of: participant, in: sorted) ?? 0] = position
        }
        self.ring = labelling
        self.positions = positions
        self.hararyDegree = degree
    }

    /// Whether every pair of participants are neighbours.
    public var isComplete: Bool { hararyDegree == nil }

    /// The neighbours of `participant` in ascending order, excluding itself; empty if it is not a participant.
    public func neighbors(of participant: UInt32) -> [UInt32] {
        guard let sortedIndex = Self.sortedIndex(of: participant, in: participants) else { return [] }
        guard let degree = hararyDegree else {
            var result = participants
            result.remove(at: sortedIndex)
            return result
        }
        let count = ring.count
        let position = positions[sortedIndex]
        var neighborPositions = [Int]()
        neighborPositions.reserveCapacity(degree + 1)
        for offset in stride(from: 1, through: degree / 2, by: 1) {
            neighborPositions.append((position + offset) % count)
            neighborPositions.append((position - offset + count) % count)
        }
        if degree % 2 == 1 {
            if count % 2 == 0 {
                neighborPositions.append((position + count / 2) % count)
            } else {
                let half = (count - 1) / 2
                if position <= half - 1 { neighborPositions.append(position + half + 1) }
                if position >= half + 1 { neighborPositions.append(position - half - 1) }
                if position == 0 { neighborPositions.append(half) }
                if position == half { neighborPositions.append(0) }
            }
        }
        return neighborPositions.map { ring[$0] }.sorted()
    }

    /// Whether `a` and `b` are distinct participants joined by an edge.
    public func areNeighbors(_ a: UInt32, _ b: UInt32) -> Bool {
        guard a != b,
            let indexA = Self.sortedIndex(of: a, in: participants),
            let indexB = Self.sortedIndex(of: b, in: participants)
        else { return false }
        guard let degree = hararyDegree else { return true }
        let count = ring.count
        let low = min(positions[indexA], positions[indexB])
        let high = max(positions[indexA], positions[indexB])
        let gap = high - low
        if min(gap, count - gap) <= degree / 2 { return true }
        guard degree % 2 == 1 else { return false }
        if count % 2 == 0 { return gap == count / 2 }
        let half = (count - 1) / 2
        return gap == half + 1 || (low == 0 && high == half)
    }

    /// The largest number of neighbours any participant has: n − 1 when complete, k + 1 for odd k and odd n
    /// (one node), otherwise k.
    public var maximumDegree: Int {
        guard let degree = hararyDegree else { return participants.count - 1 }
        return degree % 2 == 1 && participants.count % 2 == 1 ? degree + 1 : degree
    }

    /// The position of `participant` in the ascending array `sorted`, by binary search.
    private static func sortedIndex(of participant: UInt32, in sorted: [UInt32]) -> Int? {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < participant { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == participant ? low : nil
    }
}

/// Why a ``NeighborGraph`` could not be built.
public enum GraphError: Error, Equatable, Sendable {
    /// A Harary degree below 1.
    case invalidDegree(Int)
    /// A participant index listed twice.
    case duplicateParticipant(UInt32)
    /// Participant index 0, which is reserved (it is Shamir's secret point).
    case invalidParticipant(UInt32)
    /// No participants.
    case empty
}
