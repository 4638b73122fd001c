import SecAggCrypto
import SecAggWire

/// The rules a client holds the coordinator to before it reveals anything: one type for every front end (the
/// Swift client, the C ABI's `secagg_client_policy`, `secagg participate`), with its defaults written once here.
/// A round that breaks a rule is refused at its invitation (the client aborts with `parametersRejected`).
public struct ClientPolicy: Sendable, Hashable {
    /// If set, every neighbour's identity must carry a valid endorsement by this enrollment authority
    /// (needed in active mode to tell genuine clients from identities the coordinator made up, SPEC §2.1).
    public var enrollmentAuthority: Ed25519.VerifyingKey?
    /// Smallest Shamir threshold the client accepts (default 2): below it, fewer colluders recover its masks.
    public var minimumThreshold: UInt32
    /// Smallest number of survivors the client accepts in any phase (default 3): the smallest cohort its input
    /// may be summed with.
    public var minimumSurvivors: UInt32
    /// Refuse honest-but-curious rounds (the client then only joins rounds with a consistency check).
    public var requireActiveMode: Bool
    /// If set, the client joins only distributed-noise rounds in which it adds at least this much noise variance
    /// itself (SPEC §5.10): it does not rely on the coordinator to add noise.
    public var minimumLocalNoise: NoiseVariance?

    public init(
        enrollmentAuthority: Ed25519.VerifyingKey? = nil, minimumThreshold: UInt32 = 2, minimumSurvivors: UInt32 = 3,
        requireActiveMode: Bool = false, minimumLocalNoise: NoiseVariance? = nil
    ) {
        self.enrollmentAuthority = enrollmentAuthority
        self.minimumThreshold = minimumThreshold
        self.minimumSurvivors = minimumSurvivors
        self.requireActiveMode = requireActiveMode
        self.minimumLocalNoise = minimumLocalNoise
    }
}

/// What a client needs to take part in rounds: its identity and the rules it holds the coordinator to.
public struct ClientConfiguration: Sendable {
    /// The client's long-term Ed25519 identity; signs its advertisement and, in active mode, the survivor set.
    public var identity: Ed25519.SigningKey
    /// The rules this client holds the coordinator to.
    public var policy: ClientPolicy

    public init(identity: Ed25519.SigningKey, policy: ClientPolicy = ClientPolicy()) {
        self.identity = identity
        self.policy = policy
    }
}

/// What the client state machine asks its driver to do.
public enum ClientAction: Sendable {
    /// Send this message to the coordinator.
    case send(ClientMessage)
    /// The round is over for this client; no further input is accepted.
    case finished(ClientReceipt)
}

/// How a round ended for one client.
public struct ClientReceipt: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        /// The coordinator released a sum with `survivorCount` inputs; this client's was among them.
        case completed(survivorCount: UInt32)
        /// The round aborted, on either side.
        case aborted(code: UInt16, reason: String)
    }

    public var roundID: RoundID?
    public var participant: ParticipantIndex?
    public var outcome: Outcome
}

/// Why the client state machine rejected an input. The state is unchanged.
public enum ClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The coordinator sent something the protocol does not allow here; the driver should abort the round
    /// (``ClientStateMachine/abort(_:detail:)``) and close the connection.
    case coordinatorViolation(ProtocolViolation)
    /// The caller used the state machine wrongly.
    case usage(UsageError)

    public var description: String {
        switch self {
        case let .coordinatorViolation(violation): return "coordinator violated the protocol: \(violation)"
        case let .usage(error): return "usage error: \(error)"
        }
    }
}
