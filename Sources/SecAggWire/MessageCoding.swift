/// Envelope and body encodings of every message (SPEC §4).

extension CoordinatorMessage: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(typeCode)
        switch self {
        case let .advertiseKeysRequest(message):
            message.parameters.encode(into: &writer)
            writer.write(message.participant)
        case let .shareKeysRequest(message):
            message.roundID.encode(into: &writer)
            writer.write(message.advertisedCount)
            writer.writeFixed(message.advertisementRoot)
            writer.writeList(message.advertisements) { writer, advertisement in advertisement.encode(into: &writer) }
            writer.writeDigestList(message.proof)
        case let .maskedInputRequest(message):
            message.roundID.encode(into: &writer)
            writer.writeList(message.shares) { writer, share in share.encode(into: &writer) }
        case let .consistencyCheckRequest(message):
            message.roundID.encode(into: &writer)
            message.survivors.encode(into: &writer)
        case let .unmaskRequest(message):
            message.roundID.encode(into: &writer)
            message.survivors.encode(into: &writer)
            writer.writeList(message.signatures) { writer, signature in signature.encode(into: &writer) }
        case let .roundOutcome(message):
            message.roundID.encode(into: &writer)
            switch message.result {
            case let .completed(survivorCount):
                writer.write(UInt8(0))
                writer.write(survivorCount)
            case let .aborted(code, reason):
                writer.write(UInt8(1))
                writer.write(code)
                writer.writeOpaque(truncatedReason(reason), prefixBytes: 2)
            }
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try readVersion(&reader)
        let type = try reader.readUInt8()
        switch type {
        case 0x01:
            let parameters = try RoundParameters(from: &reader)
            let participant = try reader.readParticipantIndex(field: "participant")
            self = .advertiseKeysRequest(AdvertiseKeysRequest(parameters: parameters, participant: participant))
        case 0x02:
            let roundID = try RoundID(from: &reader)
            let advertisedCount = try reader.readUInt32()
            let root = try reader.readFixed(WireLimits.digestBytes)
            let advertisements = try reader.readList(
                maximum: WireLimits.maximumParticipants, minimumElementBytes: KeyAdvertisement.minimumEncodedBytes,
                field: "advertisements"
            ) { (reader: inout WireReader) throws(WireError) in try KeyAdvertisement(from: &reader) }
            try requireStrictlyIncreasing(advertisements.map(\.index), field: "advertisements")
            let proof = try reader.readDigestList(field: "proof")
            self = .shareKeysRequest(ShareKeysRequest(
                roundID: roundID, advertisedCount: advertisedCount, advertisementRoot: root,
                advertisements: advertisements, proof: proof))
        case 0x03:
            let roundID = try RoundID(from: &reader)
            let shares = try reader.readList(
                maximum: WireLimits.maximumParticipants, minimumElementBytes: EncryptedShare.minimumEncodedBytes,
                field: "shares"
            ) { (reader: inout WireReader) throws(WireError) in try EncryptedShare(from: &reader) }
            try requireStrictlyIncreasing(shares.map(\.sender), field: "shares")
            self = .maskedInputRequest(MaskedInputRequest(roundID: roundID, shares: shares))
        case 0x04:
            let roundID = try RoundID(from: &reader)
            let survivors = try SurvivorView(from: &reader)
            self = .consistencyCheckRequest(ConsistencyCheckRequest(roundID: roundID, survivors: survivors))
        case 0x05:
            let roundID = try RoundID(from: &reader)
            let survivors = try SurvivorView(from: &reader)
            let signatures = try reader.readList(
                maximum: WireLimits.maximumParticipants, minimumElementBytes: ConsistencySignature.encodedBytes,
                field: "signatures"
            ) { (reader: inout WireReader) throws(WireError) in try ConsistencySignature(from: &reader) }
            try requireStrictlyIncreasing(signatures.map(\.index), field: "signatures")
            self = .unmaskRequest(UnmaskRequest(roundID: roundID, survivors: survivors, signatures: signatures))
        case 0x06:
            let roundID = try RoundID(from: &reader)
            let resultCode = try reader.readUInt8()
            switch resultCode {
            case 0:
                self = .roundOutcome(RoundOutcome(roundID: roundID, result: .completed(survivorCount: try reader.readUInt32())))
            case 1:
                let code = try reader.readUInt16()
                let reason = try readReason(&reader)
                self = .roundOutcome(RoundOutcome(roundID: roundID, result: .aborted(code: code, reason: reason)))
            default:
                throw .invalidValue(field: "outcome", reason: "unknown outcome code \(resultCode)")
            }
        default:
            throw .unknownMessageType(type)
        }
    }
}

extension ClientMessage: WireEncodable, WireDecodable {
    public func encode(into writer: inout WireWriter) {
        writer.write(WireLimits.protocolVersion)
        writer.write(typeCode)
        roundID.encode(into: &writer)
        switch self {
        case let .advertiseKeys(message):
            writer.writeFixed(message.encryptionKey)
            writer.writeFixed(message.maskingKey)
            writer.writeFixed(message.signature)
        case let .shareKeys(message):
            writer.writeFixed(message.selfMaskCommitment)
            writer.writeList(message.shares) { writer, share in share.encode(into: &writer) }
        case let .maskedInput(message):
            writer.writeOpaque(message.vector, prefixBytes: 4)
        case let .consistencyResponse(message):
            writer.writeFixed(message.signature)
        case let .unmaskResponse(message):
            writer.writeList(message.shares) { writer, share in share.encode(into: &writer) }
        case let .abort(message):
            writer.write(message.code)
            writer.writeOpaque(truncatedReason(message.reason), prefixBytes: 2)
        }
    }

    public init(from reader: inout WireReader) throws(WireError) {
        try readVersion(&reader)
        let type = try reader.readUInt8()
        guard (0x41...0x46).contains(type) else { throw .unknownMessageType(type) }
        let roundID = try RoundID(from: &reader)
        switch type {
        case 0x41:
            self = .advertiseKeys(AdvertiseKeys(
                roundID: roundID,
                encryptionKey: try reader.readFixed(WireLimits.publicKeyBytes),
                maskingKey: try reader.readFixed(WireLimits.publicKeyBytes),
                signature: try reader.readFixed(WireLimits.signatureBytes)))
        case 0x42:
            let commitment = try reader.readFixed(WireLimits.digestBytes)
            let shares = try reader.readList(
                maximum: WireLimits.maximumParticipants, minimumElementBytes: EncryptedShare.minimumEncodedBytes,
                field: "shares"
            ) { (reader: inout WireReader) throws(WireError) in try EncryptedShare(from: &reader) }
            try requireStrictlyIncreasing(shares.map(\.recipient), field: "shares")
            self = .shareKeys(ShareKeys(roundID: roundID, selfMaskCommitment: commitment, shares: shares))
        case 0x43:
            let vector = try reader.readOpaque(
                prefixBytes: 4, maximum: WireLimits.maximumDimension * 8, field: "vector")
            self = .maskedInput(MaskedInput(roundID: roundID, vector: vector))
        case 0x44:
            self = .consistencyResponse(ConsistencyResponse(
                roundID: roundID, signature: try reader.readFixed(WireLimits.signatureBytes)))
        case 0x45:
            let shares = try reader.readList(
                maximum: WireLimits.maximumParticipants, minimumElementBytes: RevealedShare.minimumEncodedBytes,
                field: "revealed"
            ) { (reader: inout WireReader) throws(WireError) in try RevealedShare(from: &reader) }
            try requireStrictlyIncreasing(shares.map(\.owner), field: "revealed")
            self = .unmaskResponse(UnmaskResponse(roundID: roundID, shares: shares))
        default:
            let code = try reader.readUInt16()
            self = .abort(ClientAbort(roundID: roundID, code: code, reason: try readReason(&reader)))
        }
    }
}

private func readVersion(_ reader: inout WireReader) throws(WireError) {
    let version = try reader.readUInt16()
    guard version == WireLimits.protocolVersion else { throw .unsupportedVersion(version) }
}

extension WireReader {
    /// Reads the envelope of a message of one type (SPEC §4.2): the protocol version, then `type`.
    ///
    /// - Throws: ``WireError/unsupportedVersion(_:)`` or ``WireError/unknownMessageType(_:)``.
    mutating func readEnvelope(type expected: UInt8) throws(WireError) {
        try readVersion(&self)
        let type = try readUInt8()
        guard type == expected else { throw .unknownMessageType(type) }
    }
}

func readReason(_ reader: inout WireReader) throws(WireError) -> String {
    let bytes = try reader.readOpaque(prefixBytes: 2, maximum: WireLimits.maximumReasonBytes, field: "reason")
    guard let reason = String(validating: bytes, as: UTF8.self) else {
        throw .invalidValue(field: "reason", reason: "not UTF-8")
    }
    return reason
}

/// The UTF-8 bytes of `reason`, cut at a character boundary to at most ``WireLimits/maximumReasonBytes``.
func truncatedReason(_ reason: String) -> [UInt8] {
    var bytes: [UInt8] = []
    for character in reason {
        let encoded = Array(String(character).utf8)
        guard bytes.count + encoded.count <= WireLimits.maximumReasonBytes else { break }
        bytes += encoded
    }
    return bytes
}
