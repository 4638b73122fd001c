/// Reassembles one application message from the plaintexts of its Noise transport messages (SPEC §2.6.4), with no
/// I/O: the first fragment starts with the message's length as a big-endian `u32`; later fragments carry the rest.
///
/// The announced length is checked against the limit before anything is reserved, and only
/// ``initialReservation`` bytes are reserved up front, so a peer cannot make the receiver allocate a large message
/// with one small fragment. Fragments that are empty or overshoot the announced length are refused.
public struct MessageAssembler: Sendable {
    /// Bytes reserved up front for a message: larger messages grow as their fragments arrive.
    public static let initialReservation = 1 << 20

    /// The message length the first fragment announced (at most the limit given at creation).
    public let announcedLength: Int
    /// The bytes received so far; the whole message once ``isComplete``.
    public private(set) var message: [UInt8]

    /// Whether every announced byte has arrived.
    public var isComplete: Bool { message.count == announcedLength }

    /// Starts a message from its first fragment.
    ///
    /// - Throws: ``TransportError/malformedMessage(reason:)`` if the fragment is shorter than the length field or
    ///   longer than the message it announces; ``TransportError/messageTooLarge(announced:maximum:)`` if the
    ///   announced length exceeds `maximumMessageBytes`.
    public init(firstFragment: [UInt8], maximumMessageBytes: Int) throws(TransportError) {
        let announced = try Self.announcedLength(of: firstFragment, maximumMessageBytes: maximumMessageBytes)
        announcedLength = announced
        message = []
        message.reserveCapacity(min(announced, Self.initialReservation))
        message += firstFragment.dropFirst(4)
    }

    /// The length a first fragment announces, checked as ``init(firstFragment:maximumMessageBytes:)`` checks it but
    /// without reserving anything (a receiver with a budget reserves the length first, then assembles).
    ///
    /// - Throws: as ``init(firstFragment:maximumMessageBytes:)``.
    public static func announcedLength(of firstFragment: [UInt8], maximumMessageBytes: Int) throws(TransportError) -> Int {
        guard firstFragment.count >= 4 else {
            throw .malformedMessage(reason: "first fragment shorter than its length field")
        }
        let announced = firstFragment.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard announced <= maximumMessageBytes else {
            throw .messageTooLarge(announced: announced, maximum: maximumMessageBytes)
        }
        guard firstFragment.count - 4 <= announced else {
            throw .malformedMessage(reason: "fragment longer than the announced message")
        }
        return announced
    }

    /// Adds the next fragment.
    ///
    /// - Throws: ``TransportError/malformedMessage(reason:)`` if the fragment is empty, or the message is already
    ///   complete, or the fragment would take it past its announced length.
    public mutating func append(_ fragment: [UInt8]) throws(TransportError) {
        guard !fragment.isEmpty, message.count + fragment.count <= announcedLength else {
            throw .malformedMessage(reason: "fragments do not add up to the announced length")
        }
        message += fragment
    }
}
