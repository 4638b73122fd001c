/// A client asking how a round it was invited to ended for its input (SPEC §4.10): sent, instead of a JoinRequest,
/// as the first message of a new connection — after the client lost its connection before hearing the round's
/// outcome, so that it never submits again an input that was counted. Type 0x47.
public struct OutcomeQuery: Sendable, Hashable {
    public var roundID: RoundID

    public init(roundID: RoundID) {
        self.roundID = roundID
    }
}

/// The coordinator's signed answer to an ``OutcomeQuery``, about the asking (authenticated) identity only. Type
/// 0x08. The signature, by the coordinator's identity key over ``signedContent(client:)``, makes it a receipt the
/// client can show: the coordinator stated that round R released (or did not release) a sum with its input.
public struct OutcomeReceipt: Sendable, Hashable {
    /// What became of the client's input.
    public enum Status: UInt8, Sendable, Hashable, CaseIterable {
        /// The round released a sum, and the client's input is in it: do not submit it again.
        case included = 0
        /// The round released a sum without the client's input (it left before its masked input counted).
        case excluded = 1
        /// The round aborted: nothing was released.
        case aborted = 2
        /// The round is still running: ask again later.
        case pending = 3
        /// The coordinator knows no such round with this client invited to it.
        case unknown = 4
    }

    public var roundID: RoundID
    public var status: Status
    /// |U3| of a released round (`included`, `excluded`); 0 otherwise.
    public var survivorCount: UInt32
    /// The abort code (SPEC §9.1) of an `aborted` round; 0 otherwise.
    public var abortCode: UInt16
    /// For a released round, the `sum_blake2b` of its `round_finished` audit record (protocol/AUDIT.md): BLAKE2b-256
    /// of the released residues, which names the release in the audit log; 32 zero bytes otherwise.
    public var sumDigest: [UInt8]
    /// Ed25519 signature by the coordinator's identity key over ``signedContent(client:)``.
    public var signature: [UInt8]

    public init(
        roundID: RoundID, status: Status, survivorCount: UInt32 = 0, abortCode: UInt16 = 0,
        sumDigest: [UInt8] = [UInt8](repeating: 0, count: 32), signature: [UInt8] = [UInt8](repeating: 0, count: 64)
    ) {
        self.roundID = roundID
        self.status = status
        self.survivorCount = survivorCount
        self.abortCode = abortCode
        self.sumDigest = sumDigest
        self.signature = signature
    }

    /// The signature's label (SPEC §5).
    public static let label = "secagg/v2/receipt"

    /// The bytes the coordinator signs (SPEC §4.10): label("secagg/v2/receipt") ‖ client identity key (32) ‖
    /// round_id ‖ u8 status ‖ u32 survivor_count ‖ u16 abort_code ‖ sum_digest (32); 105 bytes.
    public func signedContent(client identity: [UInt8]) -> [UInt8] {
        var writer = WireWriter(capacity: 105)
        writer.write(UInt8(Self.label.utf8.count))
        writer.writeFixed(Array(Self.label.utf8))
        writer.writeFixed(identity)
        roundID.encode(into: &writer)
        writer.write(status.rawValue)
        writer.write(survivorCount)
        writer.write(abortCode)
        writer.writeFixed(sumDigest)
        return writer.bytes
    }
}

extension OutcomeQuery: WireEncodable, WireDecodable {
    public static let typeCode: UInt8 = 0x47
    /// Its size: envelope and a round id.
    public static let encodedBytes = 2 + 1 + WireLimits.roundIDBytes

    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(Self.typeCode)
        roundID.encode(into: &writer)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try reader.readEnvelope(type: Self.typeCode)
        roundID = try RoundID(from: &reader)
    }
}

extension OutcomeReceipt: WireEncodable, WireDecodable {
    public static let typeCode: UInt8 = 0x08

    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(Self.typeCode)
        roundID.encode(into: &writer)
        writer.write(status.rawValue)
        writer.write(survivorCount)
        writer.write(abortCode)
        writer.writeFixed(sumDigest)
        writer.writeFixed(signature)
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try reader.readEnvelope(type: Self.typeCode)
        roundID = try RoundID(from: &reader)
        let code = try reader.readUInt8()
        guard let status = Status(rawValue: code) else {
            throw .invalidValue(field: "status", reason: "unknown receipt status \(code)")
        }
        self.status = status
        survivorCount = try reader.readUInt32()
        abortCode = try reader.readUInt16()
        sumDigest = try reader.readFixed(32)
        signature = try reader.readFixed(64)
        let released = status == .included || status == .excluded
        guard released || survivorCount == 0 else {
            throw .invalidValue(field: "survivor_count", reason: "must be 0 unless the round released")
        }
        guard status == .aborted || abortCode == 0 else {
            throw .invalidValue(field: "abort_code", reason: "must be 0 unless the round aborted")
        }
        guard released || sumDigest.allSatisfy({ $0 == 0 }) else {
            throw .invalidValue(field: "sum_digest", reason: "must be zeros unless the round released")
        }
    }
}
