import SecAggCrypto
import SecAggMath
import SecAggWire

/// What both roles know once AdvertiseKeys has closed: the parameters, the session id and the neighbour graph
/// over the invited indices, derived identically by every party from public values (SPEC §5.3, §5.4, §7).
struct SessionContext: Sendable {
    let parameters: RoundParameters
    let sessionID: [UInt8]
    let graph: NeighborGraph
    /// |U1| as the coordinator committed to it.
    let advertisedCount: UInt32

    /// Derives the session id from the round digest, |U1| and the root of the advertisement tree, then the graph
    /// from the session id.
    init(
        parameters: RoundParameters, roundDigest: [UInt8], advertisedCount: UInt32, advertisementRoot: [UInt8]
    ) throws(GraphError) {
        self.parameters = parameters
        self.advertisedCount = advertisedCount
        sessionID = Derivation.sessionID(
            roundDigest: roundDigest, advertisedCount: advertisedCount, advertisementRoot: advertisementRoot)
        graph = try Derivation.neighbourGraph(parameters: parameters, sessionID: sessionID)
    }

    /// The fewest survivors any phase may close with (validation guarantees it exceeds the threshold).
    var requiredSurvivors: Int { Int(parameters.minimumSurvivors) }

    var threshold: Int { Int(parameters.threshold) }
}

/// Size of an encoded Shamir share of a 32-byte secret: 5 field elements of 8 bytes.
let encodedSecretShareBytes = Shamir.elementCount(forSecretByteCount: 32) * 8

/// Size of a sealed share bundle: owner, holder, two length-prefixed shares, and the AEAD tag.
let sealedBundleBytes = 4 + 4 + 2 + encodedSecretShareBytes + 2 + encodedSecretShareBytes + ChaChaPoly.tagByteCount
