import Foundation
import SecAggCrypto
import Testing

@testable import SecAggNoise

/// Decodes hexadecimal test data.
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    precondition(digits.count.isMultiple(of: 2), "odd number of hex digits")
    func value(_ digit: UInt8) -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: preconditionFailure("invalid hex digit in test vector")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// A `RandomSource` that replays fixed bytes (a vector's ephemeral key), then zeros; counts what was drawn.
struct FixedRandom: RandomSource {
    let bytes: [UInt8]
    private(set) var consumed = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for index in buffer.indices {
            buffer[index] = consumed < bytes.count ? bytes[consumed] : 0
            consumed += 1
        }
    }
}

/// One Noise test vector in the cacophony JSON format (all values hex).
struct NoiseVector: Sendable, Decodable, CustomTestStringConvertible {
    struct Message: Sendable, Decodable {
        let payload: String
        let ciphertext: String
    }

    var source = ""
    let protocolName: String
    let initPrologue: String
    let initStatic: String?
    let initEphemeral: String
    let initRemoteStatic: String?
    let respPrologue: String
    let respStatic: String?
    let respEphemeral: String
    let respRemoteStatic: String?
    let handshakeHash: String?
    let messages: [Message]

    enum CodingKeys: String, CodingKey {
        case protocolName, initPrologue, initStatic, initEphemeral, initRemoteStatic
        case respPrologue, respStatic, respEphemeral, respRemoteStatic, handshakeHash, messages
    }

    var testDescription: String { "\(source): \(protocolName)" }

    var pattern: NoisePattern {
        get throws { try #require(NoiseProtocolName(protocolName)).pattern }
    }
}

private struct VectorFile: Decodable {
    let vectors: [NoiseVector]
}

/// The vector files copied into `Vectors/`.
let vectorFiles = [
    "cacophony_25519_ChaChaPoly_BLAKE2b_XX_IK_NN.json",
    "snow_25519_ChaChaPoly_BLAKE2b_XX_IK_NN.json",
]

struct MissingResource: Error {}

/// Every vector of every file.
func loadVectors() throws -> [NoiseVector] {
    guard let directory = Bundle.module.url(forResource: "Vectors", withExtension: nil) else {
        throw MissingResource()
    }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    var all = [NoiseVector]()
    for file in vectorFiles {
        let data = try Data(contentsOf: directory.appendingPathComponent(file))
        for var vector in try decoder.decode(VectorFile.self, from: data).vectors {
            vector.source = String(file.prefix(while: { $0 != "_" }))
            all.append(vector)
        }
    }
    return all
}

/// The cacophony vector for `pattern`.
func cacophonyVector(_ pattern: NoisePattern) throws -> NoiseVector {
    try #require(loadVectors().first { $0.source == "cacophony" && (try? $0.pattern) == pattern })
}

func privateKey(_ text: String) throws -> X25519.PrivateKey {
    try X25519.PrivateKey(rawRepresentation: SecureBytes(copying: hex(text)))
}

func publicKey(_ text: String) throws -> X25519.PublicKey {
    try X25519.PublicKey(rawRepresentation: hex(text))
}

/// The vector's initiator, drawing exactly the vector's ephemeral key.
func makeInitiator(
    _ vector: NoiseVector, remoteStaticKey: X25519.PublicKey?? = nil, prologue: [UInt8]? = nil
) throws -> NoiseHandshake {
    var random = FixedRandom(hex(vector.initEphemeral))
    let handshake = try NoiseHandshake(
        pattern: vector.pattern, role: .initiator, prologue: prologue ?? hex(vector.initPrologue),
        staticKey: vector.initStatic.map(privateKey),
        remoteStaticKey: remoteStaticKey ?? vector.initRemoteStatic.map(publicKey),
        ephemeralSource: &random)
    #expect(random.consumed == X25519.keyByteCount)
    return handshake
}

/// The vector's responder, drawing exactly the vector's ephemeral key.
func makeResponder(_ vector: NoiseVector) throws -> NoiseHandshake {
    var random = FixedRandom(hex(vector.respEphemeral))
    let handshake = try NoiseHandshake(
        pattern: vector.pattern, role: .responder, prologue: hex(vector.respPrologue),
        staticKey: vector.respStatic.map(privateKey),
        remoteStaticKey: vector.respRemoteStatic.map(publicKey),
        ephemeralSource: &random)
    #expect(random.consumed == X25519.keyByteCount)
    return handshake
}

/// The `NoiseError` `body` throws, or `nil` if it returns. Any other error is recorded as an issue.
func noiseError(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> NoiseError? {
    do {
        try body()
        return nil
    } catch let error as NoiseError {
        return error
    } catch {
        Issue.record(error, "not a NoiseError", sourceLocation: sourceLocation)
        return nil
    }
}

/// Checks that an aborted handshake rejects every further call with `.handshakeFailed`, then consumes it.
func expectAborted(_ handshake: consuming NoiseHandshake, sourceLocation: SourceLocation = #_sourceLocation) {
    let failed = handshake.hasFailed
    let writes = handshake.isMyTurnToWrite
    #expect(failed && !writes, sourceLocation: sourceLocation)
    #expect(noiseError { _ = try handshake.writeMessage(payload: []) } == .handshakeFailed, sourceLocation: sourceLocation)
    #expect(noiseError { _ = try handshake.readMessage([UInt8](repeating: 0, count: 200)) } == .handshakeFailed, sourceLocation: sourceLocation)
    do {
        _ = try handshake.split()
        Issue.record("split() of an aborted handshake succeeded", sourceLocation: sourceLocation)
    } catch {
        #expect(error == .handshakeFailed, sourceLocation: sourceLocation)
    }
}

/// Two transports of one session.
struct TransportPair: ~Copyable {
    var initiator: NoiseTransport
    var responder: NoiseTransport
}

/// Runs a handshake of `pattern` with fresh keys from the system CSPRNG, exchanging `payloads` (one per
/// message), and checks each payload arrives.
func establish(_ pattern: NoisePattern, payloads: [[UInt8]]? = nil) throws -> TransportPair {
    var random = SystemRandom()
    let initiatorStatic = X25519.PrivateKey(using: &random)
    let responderStatic = X25519.PrivateKey(using: &random)
    let usesStatics = pattern != .nn
    var initiator = try NoiseHandshake(
        pattern: pattern, role: .initiator, prologue: Array("secagg test".utf8),
        staticKey: usesStatics ? initiatorStatic : nil,
        remoteStaticKey: pattern == .ik ? responderStatic.publicKey : nil, ephemeralSource: &random)
    var responder = try NoiseHandshake(
        pattern: pattern, role: .responder, prologue: Array("secagg test".utf8),
        staticKey: usesStatics ? responderStatic : nil, ephemeralSource: &random)
    for index in pattern.messages.indices {
        let payload = payloads?[index] ?? random.bytes(index * 7)
        if index.isMultiple(of: 2) {
            #expect(initiator.isMyTurnToWrite && !responder.isMyTurnToWrite)
            let message = try initiator.writeMessage(payload: payload)
            #expect(try responder.readMessage(message) == payload)
        } else {
            #expect(responder.isMyTurnToWrite && !initiator.isMyTurnToWrite)
            let message = try responder.writeMessage(payload: payload)
            #expect(try initiator.readMessage(message) == payload)
        }
    }
    #expect(initiator.isComplete && responder.isComplete)
    #expect(initiator.handshakeHash == responder.handshakeHash)
    #expect(initiator.remoteStaticKey == (usesStatics ? responderStatic.publicKey : nil))
    #expect(responder.remoteStaticKey == (usesStatics ? initiatorStatic.publicKey : nil))
    return TransportPair(initiator: try initiator.split(), responder: try responder.split())
}
