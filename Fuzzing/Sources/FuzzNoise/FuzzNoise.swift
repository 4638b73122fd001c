// Fuzzes the Noise handshake as both roles see attacker bytes (SPEC §2.6.2): the responder reading message 0, the
// initiator reading message 1 after its own message 0, and a transport decrypting an arbitrary frame.
// Property: no trap; every failure is a NoiseError and marks the handshake failed.
import SecAggCrypto
import SecAggNoise

/// Deterministic bytes for ephemeral keys, so a crashing input reproduces (never used outside this fuzzer).
private struct CountingSource: RandomSource {
    var counter: UInt8 = 0
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for index in buffer.indices {
            counter &+= 1
            buffer[index] = counter
        }
    }
}

private let prologue = Array("secagg/2".utf8)

private func staticKey(_ seed: UInt8) -> X25519.PrivateKey {
    var source = CountingSource(counter: seed)
    return X25519.PrivateKey(using: &source)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var source = CountingSource()
    switch data[0] % 3 {
    case 0:
        guard var responder = try? NoiseHandshake(
            pattern: .xx, role: .responder, prologue: prologue, staticKey: staticKey(1), ephemeralSource: &source)
        else { fatalError("cannot create a responder") }
        do {
            _ = try responder.readMessage(bytes)
            _ = try responder.writeMessage(payload: [1, 2, 3])
        } catch {
            guard responder.hasFailed else { fatalError("a failed read left the handshake usable: \(error)") }
        }
    case 1:
        guard var initiator = try? NoiseHandshake(
            pattern: .xx, role: .initiator, prologue: prologue, staticKey: staticKey(2), ephemeralSource: &source),
            (try? initiator.writeMessage(payload: [])) != nil
        else { fatalError("cannot create an initiator") }
        do {
            _ = try initiator.readMessage(bytes)
        } catch {
            guard initiator.hasFailed else { fatalError("a failed read left the handshake usable: \(error)") }
        }
    default:
        // A completed handshake with a fixed partner, then one attacker frame on the transport.
        var initiatorSource = CountingSource(counter: 10)
        var responderSource = CountingSource(counter: 20)
        guard var initiator = try? NoiseHandshake(
                pattern: .xx, role: .initiator, prologue: prologue, staticKey: staticKey(3), ephemeralSource: &initiatorSource),
              var responder = try? NoiseHandshake(
                pattern: .xx, role: .responder, prologue: prologue, staticKey: staticKey(4), ephemeralSource: &responderSource),
              let first = try? initiator.writeMessage(payload: []), (try? responder.readMessage(first)) != nil,
              let second = try? responder.writeMessage(payload: []), (try? initiator.readMessage(second)) != nil,
              let third = try? initiator.writeMessage(payload: []), (try? responder.readMessage(third)) != nil,
              var transport = try? responder.split()
        else { fatalError("the fixed handshake failed") }
        _ = try? transport.decrypt(bytes)
    }
    return 0
}
