import SecAggCrypto

/// Who shares pairwise masks and Shamir shares with whom in a round.
///
/// Classic SecAgg (Bonawitz et al. 2017) uses the complete graph. SecAgg+ (Bell et al. 2020) uses a Harary graph
/// H(k, n) whose ring positions are labelled by a uniformly random permutation of the participants, drawn from
/// public round randomness so that every party derives the same graph. With the degree and threshold from
/// ``ParameterFinder``, each client then talks to k = O(log n) neighbours instead of n − 1.
///
/// Two labellings exist:
/// - protocol v1 (``init(participants:kind:coin:)``): any participant set, ring labelled by a Fisher–Yates
///   shuffle. Storage is O(n); neighbour lists are computed on demand in O(k log k), and
///   ``areNeighbors(_:_:)`` is O(log n).
/// - protocol v2 (``init(invitedCount:kind:seed:)``): the invited indices 1...n, ring labelled by an
///   ``IndexPermutation``. Storage is O(1) beyond the permutation's tables; ``neighbors(of:)`` is O(k log k),
///   ``areNeighbors(_:_:)``, ``ringPosition(of:)`` and ``participant(atRingPosition:)`` O(1) (expected), so a
///   client derives its own neighbourhood without O(n) work.
public struct NeighborGraph: Sendable {
    /// The graph family.
    public enum Kind: Sendable, Equatable, Hashable {
        /// Every participant is a neighbour of every other one.
        case complete
        /// A randomly labelled Harary graph of the given degree (complete when `degree ≥ n − 1`).
        case harary(degree: Int)
    }

    /// Who the participants are.
    private enum Members: Sendable {
        /// An explicit set, in ascending order (v1).
        case listed([UInt32])
        /// The invited indices 1...n (v2).
        case invited
    }

    /// Which participant sits at which ring position.
    private enum Labelling: Sendable {
        /// Ring position p holds the p-th participant in ascending order (v1 `.complete`, which draws nothing).
        case ascending
        /// v1 Harary: `ring[p]` is the participant at ring position p; `positions[i]` is the ring position of the
        /// i-th participant in ascending order.
        case array(ring: [UInt32], positions: [Int])
        /// v2: participant u sits at ring position π(u − 1).
        case permutation(IndexPermutation)
    }

    /// The requested graph family.
    public let kind: Kind

    /// The number of participants n, which is also the number of ring positions.
    public let ringSize: Int

    /// The participants.
    private let members: Members

    /// The ring labelling.
    private let labelling: Labelling

    /// The effective Harary degree k, or nil when the graph is complete.
    private let hararyDegree: Int?

    /// Builds the graph on `participants` (protocol v1).
    ///
    /// For `.harary(k)` the labelling is drawn as follows (normative, see the protocol spec "Graph derivation"):
    /// copy the ascending participant list into `a`; for i from n − 1 down to 1, let
    /// j = `coin.uniform(below: i + 1)` and swap a[i] and a[j]; the participant at ring position p is a[p].
    /// This is Fisher–Yates, so the labelling is uniform; it is drawn even when the result is complete, and
    /// `.complete` draws nothing (ring positions then follow ascending order). On ring positions, H(k, n) connects:
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

        guard case .harary = kind else {
            self.init(
                kind: kind, ringSize: sorted.count, members: .listed(sorted), labelling: .ascending, hararyDegree: nil)
            return
        }
        var labelling = sorted
        var index = sorted.count - 1
        while index >= 1 {
            let swapWith = Int(coin.uniform(below: UInt64(index + 1)))
            labelling.swapAt(index, swapWith)
            index -= 1
        }
        self.init(sortedParticipants: sorted, ring: labelling, kind: kind)
    }

    /// The v1 Harary graph with the given ring labelling: `ring[p]` is the participant at ring position p.
    ///
    /// - Precondition: `sortedParticipants` is ascending without duplicates or 0, `ring` is a permutation of it,
    ///   and `kind` is `.harary` with a degree of at least 1 (the public initialiser checks all of this).
    init(sortedParticipants sorted: [UInt32], ring: [UInt32], kind: Kind) {
        guard case .harary(let degree) = kind, degree >= 1, ring.count == sorted.count else {
            preconditionFailure("NeighborGraph: a ring labelling needs a Harary degree and every participant")
        }
        var positions = [Int](repeating: 0, count: sorted.count)
        for (position, participant) in ring.enumerated() {
            // `sorted` holds every label exactly once, so the search always succeeds.
            positions[Self.sortedIndex(of: participant, in: sorted) ?? 0] = position
        }
        self.init(
            kind: kind, ringSize: sorted.count, members: .listed(sorted),
            labelling: .array(ring: ring, positions: positions),
            hararyDegree: degree < sorted.count - 1 ? degree : nil)
    }

    /// Builds the graph on the invited indices 1...`invitedCount` (protocol v2).
    ///
    /// The labelling (normative, see the protocol spec "Graph derivation") is the ``IndexPermutation`` π of
    /// 0..<n keyed by `seed`: participant u sits at ring position π(u − 1), and the participant at ring position
    /// p is π⁻¹(p) + 1. It is derived for every kind, `.complete` included, so ring positions are always
    /// defined. The edges on ring positions are those of ``init(participants:kind:coin:)`` (Harary H(k, n),
    /// complete when k ≥ n − 1). Nothing of size n is materialised.
    ///
    /// - Throws: ``GraphError/empty`` when `invitedCount` < 1, ``GraphError/tooManyParticipants(_:)`` above
    ///   ``IndexPermutation/maximumCount``, or ``GraphError/invalidDegree(_:)`` for a degree below 1.
    public init(invitedCount: Int, kind: Kind, seed: SymmetricKey) throws(GraphError) {
        guard invitedCount >= 1 else { throw .empty }
        guard invitedCount <= IndexPermutation.maximumCount else { throw .tooManyParticipants(invitedCount) }
        if case .harary(let degree) = kind, degree < 1 { throw .invalidDegree(degree) }
        // The count is in range, so the permutation cannot be rejected.
        guard let permutation = try? IndexPermutation(count: invitedCount, seed: seed) else {
            preconditionFailure("NeighborGraph: invited count checked against IndexPermutation.maximumCount")
        }
        var hararyDegree: Int?
        if case .harary(let degree) = kind, degree < invitedCount - 1 { hararyDegree = degree }
        self.init(
            kind: kind, ringSize: invitedCount, members: .invited, labelling: .permutation(permutation),
            hararyDegree: hararyDegree)
    }

    /// Stores the parts.
    private init(kind: Kind, ringSize: Int, members: Members, labelling: Labelling, hararyDegree: Int?) {
        self.kind = kind
        self.ringSize = ringSize
        self.members = members
        self.labelling = labelling
        self.hararyDegree = hararyDegree
    }

    /// The participants in ascending order.
    ///
    /// O(1) for a v1 graph (the stored list); a v2 graph materialises 1...n on every access (O(n)): use
    /// ``ringSize`` and ``ringPosition(of:)`` (nil for a non-participant) there instead.
    public var participants: [UInt32] {
        switch members {
        case .listed(let sorted): sorted
        case .invited: Array(1...UInt32(ringSize))
        }
    }

    /// Whether every pair of participants are neighbours.
    public var isComplete: Bool { hararyDegree == nil }

    /// The ring position of `participant` in 0..<``ringSize``, or nil if it is not a participant.
    ///
    /// For a v1 `.complete` graph (no labelling drawn) this is the participant's rank in ascending order.
    public func ringPosition(of participant: UInt32) -> Int? {
        memberIndex(of: participant).map(ringPosition(ofMemberAt:))
    }

    /// The participant at ring position `position`, or nil outside 0..<``ringSize``.
    public func participant(atRingPosition position: Int) -> UInt32? {
        guard position >= 0, position < ringSize else { return nil }
        return member(atRingPosition: position)
    }

    /// The neighbours of `participant` in ascending order, excluding itself; empty if it is not a participant.
    public func neighbors(of participant: UInt32) -> [UInt32] {
        guard let memberIndex = memberIndex(of: participant) else { return [] }
        guard let degree = hararyDegree else {
            switch members {
            case .listed(let sorted):
                var result = sorted
                result.remove(at: memberIndex)
                return result
            case .invited:
                return (1...UInt32(ringSize)).filter { $0 != participant }
            }
        }
        let count = ringSize
        let position = ringPosition(ofMemberAt: memberIndex)
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
        return neighborPositions.map(member(atRingPosition:)).sorted()
    }

    /// Whether `a` and `b` are distinct participants joined by an edge.
    public func areNeighbors(_ a: UInt32, _ b: UInt32) -> Bool {
        guard a != b,
            let indexA = memberIndex(of: a),
            let indexB = memberIndex(of: b)
        else { return false }
        guard let degree = hararyDegree else { return true }
        let count = ringSize
        let positionA = ringPosition(ofMemberAt: indexA)
        let positionB = ringPosition(ofMemberAt: indexB)
        let low = min(positionA, positionB)
        let high = max(positionA, positionB)
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
        guard let degree = hararyDegree else { return ringSize - 1 }
        return degree % 2 == 1 && ringSize % 2 == 1 ? degree + 1 : degree
    }

    /// The rank of `participant` among the participants in ascending order, or nil if it is not one.
    private func memberIndex(of participant: UInt32) -> Int? {
        switch members {
        case .listed(let sorted): Self.sortedIndex(of: participant, in: sorted)
        case .invited: participant >= 1 && Int(participant) <= ringSize ? Int(participant) - 1 : nil
        }
    }

    /// The ring position of the participant of rank `memberIndex` (in 0..<ringSize).
    private func ringPosition(ofMemberAt memberIndex: Int) -> Int {
        switch labelling {
        case .ascending: memberIndex
        case .array(_, let positions): positions[memberIndex]
        case .permutation(let permutation): permutation.apply(memberIndex)
        }
    }

    /// The participant at ring position `position` (in 0..<ringSize).
    private func member(atRingPosition position: Int) -> UInt32 {
        switch labelling {
        case .ascending:
            guard case .listed(let sorted) = members else { return UInt32(position + 1) }
            return sorted[position]
        case .array(let ring, _): return ring[position]
        case .permutation(let permutation): return UInt32(permutation.invert(position) + 1)
        }
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
    /// More invited participants than a v2 graph supports (``IndexPermutation/maximumCount``, 2^30).
    case tooManyParticipants(Int)
}
