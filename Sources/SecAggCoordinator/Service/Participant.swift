import NIOCore
import SecAggCrypto
import SecAggProtocol
import SecAggTransport
import SecAggWire
import NIOConcurrencyHelpers

/// What a connection hands to the round it is in.
enum RoundEvent: Sendable {
    /// A whole message from a participant; resume `consumed` once it has been processed, so that each
    /// connection has at most one message in flight.
    case message(ParticipantIndex, [UInt8], consumed: CheckedContinuation<Void, Never>)
    /// The participant's connection ended.
    case disconnected(ParticipantIndex)
    /// The connection refused what the participant sent before it reached the round (an announcement over the
    /// phase's allowance); the round drops it for that violation.
    case violated(ParticipantIndex, ProtocolViolation)
    /// The machine's next deadline has come (a timer child of the round sleeps until it).
    case deadline
    /// The task running the round was cancelled (the coordinator is shutting down).
    case cancelled
    /// Time to catch up the live view for `round watch` with a refresh it skipped.
    case progressDue
}

/// A message queued for a participant's connection.
enum Outgoing: Sendable {
    /// Bytes ready to send.
    case bytes([UInt8])
    /// A message built by the connection's writer just before it sends it.
    case built(@Sendable () -> [UInt8])

    /// The message's bytes.
    var bytes: [UInt8] {
        switch self {
        case let .bytes(bytes): bytes
        case let .built(build): build()
        }
    }
}

/// A client that completed the handshake and joined a task, from the coordinator's side.
///
/// The connection's own task reads messages and passes them to the round the participant is attached to; the
/// round sends through ``session``. A message that arrives while no round is attached (the client is still
/// queued) breaks the protocol and ends the connection.
final class Participant: Sendable {
    let identity: Ed25519.VerifyingKey
    /// The enrollment authority's endorsement of ``identity`` (empty without an authority), relayed to neighbours.
    let endorsement: [UInt8]
    let session: SecureSession
    private let channel: any Channel
    private let attachment = NIOLockedValueBox<Attachment?>(nil)
    private let outbox: AsyncStream<Outgoing>.Continuation
    let outgoing: AsyncStream<Outgoing>

    /// Called once, when the connection is closed: frees the identity for a new connection.
    private let onClose: NIOLockedValueBox<(@Sendable () -> Void)?>

    struct Attachment: Sendable {
        let index: ParticipantIndex
        let events: AsyncStream<RoundEvent>.Continuation
        /// What the participant may send now: set by the round at each phase, nothing until the first.
        var allowance: ReceiveAllowance = .nothing
    }

    init(
        identity: Ed25519.VerifyingKey, endorsement: [UInt8] = [], session: SecureSession, channel: any Channel,
        onClose: @escaping @Sendable () -> Void = {}
    ) {
        self.identity = identity
        self.endorsement = endorsement
        self.session = session
        self.channel = channel
        self.onClose = NIOLockedValueBox(onClose)
        (outgoing, outbox) = AsyncStream.makeStream(of: Outgoing.self)
    }

    /// Routes this participant's messages to a round under `index`.
    func attach(index: ParticipantIndex, events: AsyncStream<RoundEvent>.Continuation) {
        attachment.withLockedValue { $0 = Attachment(index: index, events: events) }
    }

    /// Sets what the participant may send next (the round calls it when a phase opens, before its requests go out).
    func allow(_ allowance: ReceiveAllowance) {
        attachment.withLockedValue { $0?.allowance = allowance }
    }

    /// What the participant may send now: nothing while it waits in a queue (SPEC §4.9), the current phase's
    /// largest message, reserved from its round's budget, while it is in a round.
    var allowance: ReceiveAllowance {
        attachment.withLockedValue { $0?.allowance ?? .nothing }
    }

    /// Queues `message` for sending without waiting (a writer task drains the queue, so one slow client never
    /// holds up the round).
    func send(_ message: [UInt8]) {
        outbox.yield(.bytes(message))
    }

    /// Queues a message that the writer task builds when its turn comes (a large message for one participant:
    /// only those being written exist at a time).
    func send(building message: @escaping @Sendable () -> [UInt8]) {
        outbox.yield(.built(message))
    }

    /// Ends the participant's part: no further sends are queued; the connection closes once the queue is flushed.
    func finish() {
        attachment.withLockedValue { $0 = nil }
        outbox.finish()
    }

    /// Closes the connection now.
    func close() {
        attachment.withLockedValue { $0 = nil }
        outbox.finish()
        channel.close(promise: nil)
        onClose.withLockedValue { action in
            let pending = action
            action = nil
            return pending
        }?()
    }

    /// Closes the connection from outside the round (an operator revoked the identity) and tells the attached round
    /// at once, so it drops the participant now rather than at the phase's deadline. (``close()`` detaches first:
    /// the round that calls it already knows.)
    func disconnect() {
        disconnected()
        close()
    }

    /// Delivers a received message to the attached round and waits until the round has processed it.
    ///
    /// - Returns: false if no round is attached (the message was unexpected).
    func deliver(_ message: [UInt8]) async -> Bool {
        guard let current = attachment.withLockedValue({ $0 }) else { return false }
        await withCheckedContinuation { consumed in
            if case .terminated = current.events.yield(.message(current.index, message, consumed: consumed)) {
                consumed.resume()
            }
        }
        return true
    }

    /// Tells the attached round that the participant broke the protocol in a way only the connection saw.
    func violated(_ violation: ProtocolViolation) {
        if let current = attachment.withLockedValue({ $0 }) {
            current.events.yield(.violated(current.index, violation))
        }
    }

    /// Tells the attached round that the connection ended.
    func disconnected() {
        if let current = attachment.withLockedValue({ $0 }) {
            current.events.yield(.disconnected(current.index))
        }
    }
}
