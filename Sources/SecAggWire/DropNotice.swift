/// The coordinator telling a client it was dropped from a round (SPEC §4.11): sent, when the connection is still
/// open, just before the coordinator closes it, so that the client reports "dropped in phase P because C" instead
/// of a closed connection. Informational: it changes nothing in the round, which already treats the client as a
/// dropout. Type 0x09.
public struct DropNotice: Sendable, Hashable {
    /// Why the coordinator dropped the client.
    public enum Cause: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Its message for the phase had not arrived when the phase closed (too slow, or stalled).
        case silent = 0
        /// It sent something the protocol does not allow (the reason says what).
        case violation = 1
        /// Too few of its neighbours shared keys for its masks to be removable.
        case tooFewNeighbours = 2

        public var description: String {
            switch self {
            case .silent: return "no message before the phase closed"
            case .violation: return "protocol violation"
            case .tooFewNeighbours: return "too few neighbours shared keys"
            }
        }
    }

    public var roundID: RoundID
    /// The phase (SPEC §8: 0 advertise … 4 unmask) in which the client was dropped.
    public var phase: UInt8
    public var cause: Cause
    /// Details for a person, UTF-8, at most 1,024 bytes on the wire (longer reasons are cut).
    public var reason: String

    public init(roundID: RoundID, phase: UInt8, cause: Cause, reason: String) {
        self.roundID = roundID
        self.phase = phase
        self.cause = cause
        self.reason = reason
    }
}

extension DropNotice: WireEncodable, WireDecodable {
    public static let typeCode: UInt8 = 0x09
    /// The largest phase number (unmask).
    static let lastPhase: UInt8 = 4

    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(Self.typeCode)
        roundID.encode(into: &writer)
        writer.write(phase)
        writer.write(cause.rawValue)
        writer.writeOpaque(truncatedReason(reason), prefixBytes: 2)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try reader.readEnvelope(type: Self.typeCode)
        roundID = try RoundID(from: &reader)
        phase = try reader.readUInt8()
        guard phase <= Self.lastPhase else { throw .invalidValue(field: "phase", reason: "unknown phase \(phase)") }
        let code = try reader.readUInt8()
        guard let cause = Cause(rawValue: code) else {
            throw .invalidValue(field: "cause", reason: "unknown drop cause \(code)")
        }
        self.cause = cause
        reason = try readReason(&reader)
    }
}
