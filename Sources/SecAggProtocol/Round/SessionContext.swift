import SecAggCrypto
import SecAggMath
import SecAggWire

/// What both roles know once AdvertiseKeys has closed: the parameters, the session id and the neighbour graph
/// over U1, derived identically by every party from public values (SPEC §5.3, §5.4).
struct SessionContext: Sendable {
    let parameters: RoundParameters
    let sessionID: [UInt8]
    let graph: NeighborGraph

    /// Derives the session id from the round digest and the accepted advertisements (sorted by index), then the
    /// graph from the session id.
    init(parameters: RoundParameters, roundDigest: [UInt8], advertisements: [KeyAdvertisement]) throws(GraphError) {
        self.parameters = parameters
        sessionID = Derivation.sessionID(roundDigest: roundDigest, advertisements: advertisements)
        graph = try Self.graph(
            for: parameters.graph, participants: advertisements.map(\.index), sessionID: sessionID)
    }

    /// The neighbour graph of a session: the kind from the parameters, the labelling from the session id.
    static func graph(
        for shape: GraphShape, participants: [ParticipantIndex], sessionID: [UInt8]
    ) throws(GraphError) -> NeighborGraph {
        let kind: NeighborGraph.Kind
        switch shape {
        case .complete: kind = .complete
        case let .harary(degree): kind = .harary(degree: Int(degree))
        }
        // The seed is always 32 bytes, so PublicCoin cannot reject it.
        guard var coin = try? PublicCoin(seed: Derivation.graphSeed(sessionID: sessionID)) else {
            preconditionFailure("graph seed must be 32 bytes")
        }
        return try NeighborGraph(participants: participants, kind: kind, coin: &coin)
    }

    /// The fewest survivors any phase may close with (validation guarantees it exceeds the threshold).
    var requiredSurvivors: Int { Int(parameters.minimumSurvivors) }

    /// Whether `index` is in U1 (the graph's participants, sorted).
    func isInFirstSet(_ index: ParticipantIndex) -> Bool {
        let members = graph.participants
        var low = 0
        var high = members.count
        while low < high {
            let middle = (low + high) / 2
            if members[middle] < index { low = middle + 1 } else { high = middle }
        }
        return low < members.count && members[low] == index
    }

    var threshold: Int { Int(parameters.threshold) }
}

/// Size of an encoded Shamir share of a 32-byte secret: 5 field elements of 8 bytes.
let encodedSecretShareBytes = Shamir.elementCount(forSecretByteCount: 32) * 8

/// Size of a sealed share bundle: owner, holder, two length-prefixed shares, and the AEAD tag.
let sealedBundleBytes = 4 + 4 + 2 + encodedSecretShareBytes + 2 + encodedSecretShareBytes + ChaChaPoly.tagByteCount
