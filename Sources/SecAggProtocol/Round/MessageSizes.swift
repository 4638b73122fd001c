import SecAggWire

/// The largest valid client-to-coordinator message of each phase, from the round's parameters (SPEC §2.6.5).
///
/// A coordinator refuses an announced message larger than what the current phase allows before it reserves or reads
/// anything, so a client cannot hold memory or inbound budget beyond the one message the protocol expects of it.
/// The sizes are exact upper bounds of what the state machines accept (every share and ciphertext has its one
/// semantic size), counted from the encodings of SPEC §4.
extension RoundParameters {
    /// Envelope (version, type) and round identifier: the start of every client message.
    private static let messageHeaderBytes = 2 + 1 + 16

    /// The largest ``ClientAbort``: header, code and a reason of at most 1,024 bytes. A client may send it in any phase.
    public static let largestClientAbortBytes = messageHeaderBytes + 2 + 2 + WireLimits.maximumReasonBytes

    /// Bytes of the largest message a client may send in `phase` (its phase message or a ``ClientAbort``).
    public func largestClientMessage(in phase: RoundPhase) -> Int {
        let header = Self.messageHeaderBytes
        let neighbours = Int(maximumNeighbourCount)
        let phaseMessage: Int
        switch phase {
        case .advertiseKeys:
            // AdvertiseKeys: two X25519 keys and a signature.
            phaseMessage = header + 32 + 32 + 64
        case .shareKeys:
            // ShareKeys: commitment, then one EncryptedShare (sender, recipient, 2-byte length, sealed bundle)
            // per neighbour.
            phaseMessage = header + 32 + 4 + neighbours * (4 + 4 + 2 + sealedBundleBytes)
        case .maskedInputCollection:
            // MaskedInput: the vector with its 4-byte length, `dimension` lanes of 4 or 8 bytes.
            phaseMessage = header + 4 + Int(dimension) * (bits <= 32 ? 4 : 8)
        case .consistencyCheck:
            // ConsistencyResponse: one signature.
            phaseMessage = header + 64
        case .unmasking:
            // UnmaskResponse: at most one RevealedShare (owner, kind, 2-byte length, share) per neighbour.
            phaseMessage = header + 4 + neighbours * (4 + 1 + 2 + encodedSecretShareBytes)
        }
        return max(phaseMessage, Self.largestClientAbortBytes)
    }

    /// The largest message a client may send in any phase of this round.
    public var largestClientMessage: Int {
        RoundPhase.allCases.map(largestClientMessage(in:)).max() ?? Self.largestClientAbortBytes
    }
}
