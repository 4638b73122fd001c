import Testing
import SecAggWire

// Shared values and helpers for the wire tests. Sample messages carry distinct, non-trivial bytes in every
// field so that a field written in the wrong place or order cannot round-trip by accident.

/// Parses test-vector hex, ignoring whitespace, so vectors can be annotated field by field. Independent of
/// `bytes(fromHex:)`, which is itself under test.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.unicodeScalars.filter { !$0.properties.isWhitespace })
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits in a test vector")
    return stride(from: 0, to: digits.count, by: 2).map { position in
        guard let byte = UInt8(String(String.UnicodeScalarView(digits[position...position + 1])), radix: 16) else {
            preconditionFailure("bad hex digit in a test vector")
        }
        return byte
    }
}

/// `count` bytes counting up from `start` (wrapping).
func ramp(_ count: Int, from start: UInt8) -> [UInt8] {
    (0..<count).map { start &+ UInt8(truncatingIfNeeded: $0) }
}

/// Round id 00 01 02 … 0f.
let sampleRoundID = RoundID(bytes: ramp(16, from: 0x00))!

/// A different round id (f0 … ff).
let otherRoundID = RoundID(bytes: ramp(16, from: 0xf0))!

/// Parameters that pass `validate()`: 10 invited, Harary degree 4, threshold 3, active mode.
func sampleParameters() -> RoundParameters {
    RoundParameters(
        roundID: sampleRoundID, taskName: "sum", dimension: 1000, bits: 32, maximumInput: 1_000_000,
        graph: .harary(degree: 4), threshold: 3, minimumSurvivors: 5, mode: .active, invitedCount: 10,
        nonce: ramp(32, from: 0xa0))
}

func sampleAdvertisement(index: ParticipantIndex, endorsed: Bool) -> KeyAdvertisement {
    let seed = UInt8(truncatingIfNeeded: index &* 17)
    return KeyAdvertisement(
        index: index, identityKey: ramp(32, from: seed), encryptionKey: ramp(32, from: seed &+ 0x40),
        maskingKey: ramp(32, from: seed &+ 0x80), signature: ramp(64, from: seed &+ 0xc0),
        endorsement: endorsed ? ramp(64, from: seed &+ 0x11) : [])
}

func sampleShare(sender: ParticipantIndex, recipient: ParticipantIndex, length: Int = 106) -> EncryptedShare {
    EncryptedShare(sender: sender, recipient: recipient, ciphertext: ramp(length, from: UInt8(truncatingIfNeeded: sender &* 3 &+ recipient)))
}

/// A small survivor view (SPEC §4.1.9) for messages whose other fields a test is about.
let sampleView = SurvivorView(
    survivorCount: 3, survivorRoot: ramp(32, from: 0x55), statuses: [true, false], proof: [ramp(32, from: 0x66)])

/// A survivor view with no statuses and no proof (legal on the wire; the protocol layer judges it).
let emptyView = SurvivorView(survivorCount: 0, survivorRoot: ramp(32, from: 0), statuses: [], proof: [])

/// One of every coordinator message, each with non-trivial content.
let sampleCoordinatorMessages: [CoordinatorMessage] = [
    .advertiseKeysRequest(AdvertiseKeysRequest(parameters: sampleParameters(), participant: 7)),
    .shareKeysRequest(ShareKeysRequest(
        roundID: sampleRoundID, advertisedCount: 250, advertisementRoot: ramp(32, from: 0x33),
        advertisements: [
            sampleAdvertisement(index: 1, endorsed: false),
            sampleAdvertisement(index: 4, endorsed: true),
            sampleAdvertisement(index: 300, endorsed: false),
        ],
        proof: [ramp(32, from: 0x01), ramp(32, from: 0x21), ramp(32, from: 0x41)])),
    .maskedInputRequest(MaskedInputRequest(roundID: sampleRoundID, shares: [
        sampleShare(sender: 2, recipient: 5), sampleShare(sender: 3, recipient: 5, length: 1024),
        sampleShare(sender: 70_000, recipient: 5, length: 0),
    ])),
    .consistencyCheckRequest(ConsistencyCheckRequest(roundID: sampleRoundID, survivors: SurvivorView(
        survivorCount: 1_000_000, survivorRoot: ramp(32, from: 0x70), statuses: [true, false, true, true, false],
        proof: [ramp(32, from: 0x90), ramp(32, from: 0xa0)]))),
    .unmaskRequest(UnmaskRequest(roundID: sampleRoundID, survivors: SurvivorView(
        survivorCount: 4, survivorRoot: ramp(32, from: 0x71), statuses: [true, true, false], proof: [ramp(32, from: 0x91)]),
        signatures: [
        ConsistencySignature(index: 2, signature: ramp(64, from: 0x10)),
        ConsistencySignature(index: 8, signature: ramp(64, from: 0x90)),
    ])),
    .roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .completed(survivorCount: 123_456))),
    .roundOutcome(RoundOutcome(roundID: sampleRoundID, result: .aborted(code: 0x0204, reason: "coordinator misbehaved: ü ✓"))),
]

/// One of every client message, each with non-trivial content.
let sampleClientMessages: [ClientMessage] = [
    .advertiseKeys(AdvertiseKeys(
        roundID: sampleRoundID, encryptionKey: ramp(32, from: 0x20), maskingKey: ramp(32, from: 0x60),
        signature: ramp(64, from: 0x99))),
    .shareKeys(ShareKeys(roundID: sampleRoundID, selfMaskCommitment: ramp(32, from: 0xc3), shares: [
        sampleShare(sender: 6, recipient: 1), sampleShare(sender: 6, recipient: 2),
        sampleShare(sender: 6, recipient: 9, length: 17),
    ])),
    .maskedInput(MaskedInput(roundID: sampleRoundID, vector: ramp(4 * 37, from: 0x05))),
    .consistencyResponse(ConsistencyResponse(roundID: sampleRoundID, signature: ramp(64, from: 0x3c))),
    .unmaskResponse(UnmaskResponse(roundID: sampleRoundID, shares: [
        RevealedShare(owner: 1, kind: .selfMask, share: ramp(40, from: 0x01)),
        RevealedShare(owner: 3, kind: .maskingKey, share: ramp(40, from: 0x41)),
        RevealedShare(owner: 12, kind: .selfMask, share: ramp(512, from: 0x81)),
    ])),
    .abort(ClientAbort(roundID: sampleRoundID, code: 0x0202, reason: "input does not fit — 2^bits")),
]

/// The error decoding `bytes` as `T` throws, or nil if it decodes.
func decodingError<T: WireDecodable>(_ type: T.Type, _ bytes: [UInt8]) -> WireError? {
    do {
        _ = try T(decoding: bytes)
        return nil
    } catch {
        return error
    }
}

/// The field named by an `.invalidValue` error, or nil for any other outcome.
func invalidField(_ error: WireError?) -> String? {
    if case let .invalidValue(field, _) = error { return field }
    return nil
}

/// Whether `error` is `.truncated` (at any offset).
func isTruncated(_ error: WireError?) -> Bool {
    if case .truncated = error { return true }
    return false
}

/// The envelope header `version ‖ type` as a writer, for hand-built negative vectors.
func envelope(_ type: UInt8, version: UInt16 = WireLimits.protocolVersion) -> WireWriter {
    var writer = WireWriter()
    writer.write(version)
    writer.write(type)
    return writer
}
