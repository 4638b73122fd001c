import Testing
import SecAggWire

@Suite("Malformed and hostile encodings")
struct MalformedMessageTests {
    // Every proper prefix of every coordinator message fails as truncated (no prefix is itself a valid message).
    @Test(arguments: sampleCoordinatorMessages)
    func coordinatorTruncations(_ message: CoordinatorMessage) {
        let bytes = message.encoded
        for length in 0..<bytes.count {
            let error = decodingError(CoordinatorMessage.self, Array(bytes.prefix(length)))
            #expect(isTruncated(error), "prefix of \(length)/\(bytes.count) bytes gave \(String(describing: error))")
        }
    }

    // Every proper prefix of every client message fails as truncated.
    @Test(arguments: sampleClientMessages)
    func clientTruncations(_ message: ClientMessage) {
        let bytes = message.encoded
        for length in 0..<bytes.count {
            let error = decodingError(ClientMessage.self, Array(bytes.prefix(length)))
            #expect(isTruncated(error), "prefix of \(length)/\(bytes.count) bytes gave \(String(describing: error))")
        }
    }

    // Every proper prefix of each building block and of RoundParameters fails too.
    @Test func componentTruncations() {
        func check<T: WireDecodable & WireEncodable>(_ value: T) {
            let bytes = value.encoded
            for length in 0..<bytes.count {
                let error = decodingError(T.self, Array(bytes.prefix(length)))
                #expect(isTruncated(error), "\(T.self): prefix \(length)/\(bytes.count) gave \(String(describing: error))")
            }
        }
        check(sampleParameters())
        check(sampleAdvertisement(index: 3, endorsed: true))
        check(sampleShare(sender: 1, recipient: 2))
        check(ShareBundle(owner: 1, holder: 2, selfMaskShare: ramp(40, from: 1), maskingKeyShare: ramp(40, from: 2)))
        check(RevealedShare(owner: 5, kind: .maskingKey, share: ramp(40, from: 3)))
        check(ConsistencySignature(index: 5, signature: ramp(64, from: 4)))
    }

    // One extra byte (or several) after a complete coordinator message is rejected with its count.
    @Test(arguments: sampleCoordinatorMessages)
    func coordinatorTrailingBytes(_ message: CoordinatorMessage) {
        #expect(decodingError(CoordinatorMessage.self, message.encoded + [0]) == .trailingBytes(count: 1))
        #expect(decodingError(CoordinatorMessage.self, message.encoded + [1, 2, 3]) == .trailingBytes(count: 3))
    }

    // One extra byte (or several) after a complete client message is rejected with its count.
    @Test(arguments: sampleClientMessages)
    func clientTrailingBytes(_ message: ClientMessage) {
        #expect(decodingError(ClientMessage.self, message.encoded + [0]) == .trailingBytes(count: 1))
        #expect(decodingError(ClientMessage.self, message.encoded + [0xff, 0xff]) == .trailingBytes(count: 2))
    }

    // Any version other than 2 is rejected before the type or body is looked at: version 1 included (SPEC §10).
    @Test(arguments: [UInt16(0), 1, 3, 0x0200, 0xffff])
    func unsupportedVersion(version: UInt16) {
        for message in sampleCoordinatorMessages {
            var bytes = message.encoded
            bytes[0] = UInt8(version >> 8)
            bytes[1] = UInt8(version & 0xff)
            #expect(decodingError(CoordinatorMessage.self, bytes) == .unsupportedVersion(version))
        }
        for message in sampleClientMessages {
            var bytes = message.encoded
            bytes[0] = UInt8(version >> 8)
            bytes[1] = UInt8(version & 0xff)
            #expect(decodingError(ClientMessage.self, bytes) == .unsupportedVersion(version))
        }
        // Even a bare header with a bad version reports the version, not the missing body.
        #expect(decodingError(ClientMessage.self, [UInt8(version >> 8), UInt8(version & 0xff), 0x99]) == .unsupportedVersion(version))
    }

    // Type bytes outside 0x01…0x06 are unknown to the coordinator-message decoder (including every client type).
    @Test(arguments: [UInt8(0x00), 0x07, 0x40, 0x41, 0x46, 0x80, 0xff])
    func unknownCoordinatorType(type: UInt8) {
        var bytes = sampleCoordinatorMessages[3].encoded
        bytes[2] = type
        #expect(decodingError(CoordinatorMessage.self, bytes) == .unknownMessageType(type))
        #expect(decodingError(CoordinatorMessage.self, [0, 2, type]) == .unknownMessageType(type))
    }

    // Type bytes outside 0x41…0x46 are unknown to the client-message decoder (including every coordinator type).
    @Test(arguments: [UInt8(0x00), 0x01, 0x06, 0x40, 0x47, 0xc1, 0xff])
    func unknownClientType(type: UInt8) {
        var bytes = sampleClientMessages[3].encoded
        bytes[2] = type
        #expect(decodingError(ClientMessage.self, bytes) == .unknownMessageType(type))
        #expect(decodingError(ClientMessage.self, [0, 2, type]) == .unknownMessageType(type))
    }

    // Opaque fields longer than their maximum are rejected by length, naming the field, before the body is read.
    @Test func opaqueFieldsOverMaximum() {
        // Encrypted share ciphertext: 1025 > 1024, both directions (and even when the body is absent).
        for (message, count) in [(0x03, 1025), (0x03, 0xffff)] as [(UInt8, Int)] {
            var writer = envelope(message)
            sampleRoundID.encode(into: &writer)
            writer.write(UInt32(1))
            writer.write(UInt32(2))
            writer.write(UInt32(5))
            writer.write(UInt16(count))
            writer.writeFixed(ramp(count, from: 0))
            #expect(decodingError(CoordinatorMessage.self, writer.bytes)
                    == .lengthExceedsMaximum(field: "share.ciphertext", length: count, maximum: 1024))
        }
        let oversizedShare = ClientMessage.shareKeys(ShareKeys(
            roundID: sampleRoundID, selfMaskCommitment: ramp(32, from: 0), shares: [sampleShare(sender: 1, recipient: 2, length: 1025)]))
        #expect(decodingError(ClientMessage.self, oversizedShare.encoded)
                == .lengthExceedsMaximum(field: "share.ciphertext", length: 1025, maximum: 1024))

        // Revealed share: 513 > 512.
        let oversizedReveal = ClientMessage.unmaskResponse(UnmaskResponse(
            roundID: sampleRoundID, shares: [RevealedShare(owner: 1, kind: .selfMask, share: ramp(513, from: 0))]))
        #expect(decodingError(ClientMessage.self, oversizedReveal.encoded)
                == .lengthExceedsMaximum(field: "revealed.share", length: 513, maximum: 512))

        // Share bundle: either share over 512.
        let bigSelf = ShareBundle(owner: 1, holder: 2, selfMaskShare: ramp(513, from: 0), maskingKeyShare: [])
        #expect(decodingError(ShareBundle.self, bigSelf.encoded)
                == .lengthExceedsMaximum(field: "bundle.selfMaskShare", length: 513, maximum: 512))
        let bigKey = ShareBundle(owner: 1, holder: 2, selfMaskShare: [], maskingKeyShare: ramp(600, from: 0))
        #expect(decodingError(ShareBundle.self, bigKey.encoded)
                == .lengthExceedsMaximum(field: "bundle.maskingKeyShare", length: 600, maximum: 512))

        // Endorsement: 65 > 64.
        var advertisement = sampleAdvertisement(index: 2, endorsed: false)
        advertisement.endorsement = ramp(65, from: 0)
        #expect(decodingError(KeyAdvertisement.self, advertisement.encoded)
                == .lengthExceedsMaximum(field: "endorsement", length: 65, maximum: 64))

        // Abort reasons: a hand-built 1025-byte reason in both directions.
        var outcome = envelope(0x06)
        sampleRoundID.encode(into: &outcome)
        outcome.write(UInt8(1))
        outcome.write(UInt16(0x0101))
        outcome.writeOpaque(ramp(1025, from: 0x20).map { $0 & 0x3f | 0x40 }, prefixBytes: 2)
        #expect(decodingError(CoordinatorMessage.self, outcome.bytes)
                == .lengthExceedsMaximum(field: "reason", length: 1025, maximum: 1024))
        var abort = envelope(0x46)
        sampleRoundID.encode(into: &abort)
        abort.write(UInt16(0x0101))
        abort.writeOpaque([UInt8](repeating: 0x41, count: 1025), prefixBytes: 2)
        #expect(decodingError(ClientMessage.self, abort.bytes)
                == .lengthExceedsMaximum(field: "reason", length: 1025, maximum: 1024))
    }

    // A masked vector longer than 8 · 2^28 bytes is refused from its prefix alone (no 2 GiB read is attempted).
    @Test(arguments: [UInt32(1 << 31) + 1, 0xffff_ffff])
    func maskedVectorOverMaximum(length: UInt32) {
        var writer = envelope(0x43)
        sampleRoundID.encode(into: &writer)
        writer.write(length)
        writer.writeFixed([1, 2, 3, 4])
        #expect(decodingError(ClientMessage.self, writer.bytes)
                == .lengthExceedsMaximum(field: "vector", length: Int(length), maximum: 1 << 31))
    }

    // A vector length within the maximum but beyond the input is truncated, not allocated.
    @Test func maskedVectorBeyondInput() {
        var writer = envelope(0x43)
        sampleRoundID.encode(into: &writer)
        writer.write(UInt32(1 << 31))
        writer.writeFixed([1, 2, 3, 4])
        #expect(decodingError(ClientMessage.self, writer.bytes) == .truncated(offset: 23, needed: 1 << 31))
    }

    /// Every list field: the coordinator or client type byte, and the bytes that precede the list's count.
    static let listFields: [(name: String, client: Bool, type: UInt8, before: [UInt8])] = [
        ("advertisements", false, 0x02, hex("00000001") + ramp(32, from: 0)),            // after |U1| and the root
        ("proof", false, 0x02, hex("00000001") + ramp(32, from: 0) + hex("00000000")),  // after no advertisements
        ("shares", false, 0x03, []),
        ("survivors.proof", false, 0x04, hex("00000001") + ramp(32, from: 0) + hex("00000001 01")),
        ("survivors.proof", false, 0x05, hex("00000001") + ramp(32, from: 0) + hex("00000001 01")),
        ("signatures", false, 0x05, hex("00000001") + ramp(32, from: 0) + hex("00000001 01 00000000")),  // after a view
        ("shares", true, 0x42, ramp(32, from: 0)),              // after the commitment
        ("revealed", true, 0x45, []),
    ]

    // A count of 0xFFFFFFFF (or anything above 10^6 participants) in any list is refused from the count alone.
    @Test(arguments: [UInt32(1_000_001), 0x8000_0000, 0xffff_ffff])
    func listCountOverMaximum(count: UInt32) {
        for field in Self.listFields {
            var writer = envelope(field.type)
            sampleRoundID.encode(into: &writer)
            writer.writeFixed(field.before)
            writer.write(count)
            writer.writeFixed(ramp(64, from: 0))
            let error = field.client
                ? decodingError(ClientMessage.self, writer.bytes)
                : decodingError(CoordinatorMessage.self, writer.bytes)
            #expect(error == .lengthExceedsMaximum(field: field.name, length: Int(count), maximum: 1_000_000),
                    "type \(field.type) field \(field.name)")
        }
    }

    // A count within the maximum that the remaining bytes cannot hold is refused as truncated before any element is read.
    @Test(arguments: [UInt32(2), 1_000_000])
    func listCountBeyondInput(count: UInt32) {
        for field in Self.listFields {
            var writer = envelope(field.type)
            sampleRoundID.encode(into: &writer)
            writer.writeFixed(field.before)
            writer.write(count)
            writer.writeFixed([0, 0, 0, 1])  // one index's worth: too short for 2 of any element
            let error = field.client
                ? decodingError(ClientMessage.self, writer.bytes)
                : decodingError(CoordinatorMessage.self, writer.bytes)
            #expect(isTruncated(error), "type \(field.type) field \(field.name): \(String(describing: error))")
        }
    }

    // Sets travel strictly increasing: duplicates and descending entries are rejected, naming the list.
    @Test func nonIncreasingSets() {
        func coordinatorField(_ message: CoordinatorMessage) -> String? {
            invalidField(decodingError(CoordinatorMessage.self, message.encoded))
        }
        func clientField(_ message: ClientMessage) -> String? {
            invalidField(decodingError(ClientMessage.self, message.encoded))
        }
        let signature = { (index: ParticipantIndex) in ConsistencySignature(index: index, signature: ramp(64, from: 0)) }
        for order: [ParticipantIndex] in [[3, 3], [4, 2]] {
            #expect(coordinatorField(.unmaskRequest(UnmaskRequest(
                roundID: sampleRoundID, survivors: sampleView, signatures: order.map(signature)))) == "signatures")
            #expect(coordinatorField(.shareKeysRequest(ShareKeysRequest(
                roundID: sampleRoundID, advertisedCount: 9, advertisementRoot: ramp(32, from: 0),
                advertisements: order.map { sampleAdvertisement(index: $0, endorsed: false) }, proof: []))) == "advertisements")
            #expect(coordinatorField(.maskedInputRequest(MaskedInputRequest(
                roundID: sampleRoundID, shares: order.map { sampleShare(sender: $0, recipient: 9) }))) == "shares")
            #expect(clientField(.shareKeys(ShareKeys(
                roundID: sampleRoundID, selfMaskCommitment: ramp(32, from: 0),
                shares: order.map { sampleShare(sender: 9, recipient: $0) }))) == "shares")
            #expect(clientField(.unmaskResponse(UnmaskResponse(
                roundID: sampleRoundID, shares: order.map { RevealedShare(owner: $0, kind: .selfMask, share: [1]) }))) == "revealed")
        }
    }

    // Participant index 0 is rejected wherever an index appears.
    @Test func indexZero() {
        func coordinatorField(_ message: CoordinatorMessage) -> String? {
            invalidField(decodingError(CoordinatorMessage.self, message.encoded))
        }
        func clientField(_ message: ClientMessage) -> String? {
            invalidField(decodingError(ClientMessage.self, message.encoded))
        }
        #expect(coordinatorField(.advertiseKeysRequest(AdvertiseKeysRequest(parameters: sampleParameters(), participant: 0))) == "participant")
        #expect(coordinatorField(.unmaskRequest(UnmaskRequest(
            roundID: sampleRoundID, survivors: sampleView,
            signatures: [ConsistencySignature(index: 0, signature: ramp(64, from: 0))]))) == "consistency.index")
        #expect(coordinatorField(.shareKeysRequest(ShareKeysRequest(
            roundID: sampleRoundID, advertisedCount: 1, advertisementRoot: ramp(32, from: 0),
            advertisements: [sampleAdvertisement(index: 0, endorsed: false)], proof: []))) == "advertisement.index")
        #expect(coordinatorField(.maskedInputRequest(MaskedInputRequest(
            roundID: sampleRoundID, shares: [sampleShare(sender: 0, recipient: 1)]))) == "share.sender")
        #expect(coordinatorField(.maskedInputRequest(MaskedInputRequest(
            roundID: sampleRoundID, shares: [sampleShare(sender: 1, recipient: 0)]))) == "share.recipient")
        #expect(clientField(.shareKeys(ShareKeys(
            roundID: sampleRoundID, selfMaskCommitment: ramp(32, from: 0), shares: [sampleShare(sender: 1, recipient: 0)]))) == "share.recipient")
        #expect(clientField(.unmaskResponse(UnmaskResponse(
            roundID: sampleRoundID, shares: [RevealedShare(owner: 0, kind: .selfMask, share: [])]))) == "revealed.owner")
        #expect(invalidField(decodingError(ShareBundle.self, ShareBundle(owner: 0, holder: 1, selfMaskShare: [], maskingKeyShare: []).encoded)) == "bundle.owner")
        #expect(invalidField(decodingError(ShareBundle.self, ShareBundle(owner: 1, holder: 0, selfMaskShare: [], maskingKeyShare: []).encoded)) == "bundle.holder")
    }

    /// Offsets in the encoding of `sampleParameters()` (3-byte task name).
    static let graphCodeOffset = 33
    static let degreeOffset = 34
    static let modeOffset = 46

    // Unknown graph codes are rejected; so is a complete graph (code 0) carrying a non-zero degree.
    @Test(arguments: [UInt8(2), 3, 0x80, 0xff])
    func badGraphCode(code: UInt8) {
        var bytes = sampleParameters().encoded
        bytes[Self.graphCodeOffset] = code
        #expect(invalidField(decodingError(RoundParameters.self, bytes)) == "graph")
        // The same inside the AdvertiseKeysRequest envelope.
        var message = CoordinatorMessage.advertiseKeysRequest(AdvertiseKeysRequest(parameters: sampleParameters(), participant: 1)).encoded
        message[3 + Self.graphCodeOffset] = code
        #expect(invalidField(decodingError(CoordinatorMessage.self, message)) == "graph")
    }

    // A complete graph must carry degree 0, so each graph has one encoding.
    @Test func completeGraphWithDegree() throws {
        var parameters = sampleParameters()
        parameters.graph = .complete
        var bytes = parameters.encoded
        #expect(try RoundParameters(decoding: bytes) == parameters)
        bytes[Self.degreeOffset + 3] = 4
        #expect(invalidField(decodingError(RoundParameters.self, bytes)) == "degree")
    }

    // Unknown round modes are rejected.
    @Test(arguments: [UInt8(2), 0x7f, 0xff])
    func badModeCode(code: UInt8) {
        var bytes = sampleParameters().encoded
        #expect(bytes[Self.modeOffset] == RoundMode.active.rawValue)
        bytes[Self.modeOffset] = code
        #expect(invalidField(decodingError(RoundParameters.self, bytes)) == "mode")
    }

    // Unknown share kinds in an UnmaskResponse are rejected.
    @Test(arguments: [UInt8(2), 0xff])
    func badShareKind(code: UInt8) {
        var bytes = ClientMessage.unmaskResponse(UnmaskResponse(
            roundID: sampleRoundID, shares: [RevealedShare(owner: 1, kind: .maskingKey, share: [9])])).encoded
        let kindOffset = 3 + 16 + 4 + 4
        #expect(bytes[kindOffset] == 1)
        bytes[kindOffset] = code
        #expect(invalidField(decodingError(ClientMessage.self, bytes)) == "revealed.kind")
    }

    // Unknown outcome codes in a RoundOutcome are rejected.
    @Test(arguments: [UInt8(2), 0xff])
    func badOutcomeCode(code: UInt8) {
        var bytes = CoordinatorMessage.roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .completed(survivorCount: 5))).encoded
        bytes[19] = code
        #expect(invalidField(decodingError(CoordinatorMessage.self, bytes)) == "outcome")
    }

    // An endorsement must be empty or exactly 64 bytes.
    @Test(arguments: [1, 32, 63])
    func badEndorsementLength(length: Int) {
        var advertisement = sampleAdvertisement(index: 2, endorsed: false)
        advertisement.endorsement = ramp(length, from: 0)
        #expect(invalidField(decodingError(KeyAdvertisement.self, advertisement.encoded)) == "endorsement")
    }

    // Task names and abort reasons must be valid UTF-8.
    @Test func invalidUTF8() {
        var bytes = sampleParameters().encoded
        bytes[17] = 0xff  // first byte of "sum"
        #expect(invalidField(decodingError(RoundParameters.self, bytes)) == "taskName")
        var abort = envelope(0x46)
        sampleRoundID.encode(into: &abort)
        abort.write(UInt16(1))
        abort.writeOpaque([0x61, 0xc3], prefixBytes: 2)  // "a" then a lone lead byte
        #expect(invalidField(decodingError(ClientMessage.self, abort.bytes)) == "reason")
        var outcome = envelope(0x06)
        sampleRoundID.encode(into: &outcome)
        outcome.write(UInt8(1))
        outcome.write(UInt16(1))
        outcome.writeOpaque([0xed, 0xa0, 0x80], prefixBytes: 2)  // an encoded surrogate
        #expect(invalidField(decodingError(CoordinatorMessage.self, outcome.bytes)) == "reason")
    }

    // Messages for one direction do not decode as the other (the type ranges are disjoint).
    @Test func directionsDoNotMix() {
        for message in sampleClientMessages {
            #expect(decodingError(CoordinatorMessage.self, message.encoded) == .unknownMessageType(message.typeCode))
        }
        for message in sampleCoordinatorMessages {
            #expect(decodingError(ClientMessage.self, message.encoded) == .unknownMessageType(message.typeCode))
        }
    }

    // Canonical encoding under single-byte corruption: any corrupted encoding either fails with a WireError or
    // decodes to a value whose encoding is exactly the corrupted bytes (no second encoding of any value is accepted).
    @Test(arguments: [UInt8(0x01), 0x80, 0xff])
    func corruptedBytesAreRejectedOrCanonical(mask: UInt8) {
        for message in sampleCoordinatorMessages {
            let bytes = message.encoded
            for position in bytes.indices {
                var corrupted = bytes
                corrupted[position] ^= mask
                if let decoded = try? CoordinatorMessage(decoding: corrupted) {
                    #expect(decoded.encoded == corrupted, "type \(message.typeCode), byte \(position)")
                }
            }
        }
        for message in sampleClientMessages {
            let bytes = message.encoded
            for position in bytes.indices {
                var corrupted = bytes
                corrupted[position] ^= mask
                if let decoded = try? ClientMessage(decoding: corrupted) {
                    #expect(decoded.encoded == corrupted, "type \(message.typeCode), byte \(position)")
                }
            }
        }
    }
}

