// Fuzzes the client state machine with what a hostile coordinator could send (SPEC §8.1): the input is a sequence
// of messages, each `u16 length ‖ bytes`; each is decoded and handed to one client, in order.
// Properties: no trap, no unbounded allocation (a round's parameters are validated before anything is sized by
// them), a refused message leaves the phase unchanged, and a finished client refuses everything. The same bytes
// then go to a ClientSession (the layer that also reads drop notices and join answers): once it has ended, it
// ignores everything and its end does not change.
import SecAggCrypto
import SecAggProtocol
import SecAggWire

/// Deterministic bytes, so a crashing input reproduces (never used outside this fuzzer).
private struct CountingSource: RandomSource {
    var counter: UInt8 = 0
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for index in buffer.indices {
            counter &+= 1
            buffer[index] = counter
        }
    }
}

private let identity: Ed25519.SigningKey = {
    var source = CountingSource(counter: 7)
    return Ed25519.SigningKey(using: &source)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let configuration = ClientConfiguration(identity: identity, policy: ClientPolicy(minimumThreshold: 1, minimumSurvivors: 2))
    var client = ClientStateMachine(configuration: configuration, input: [1, 2, 3, 4])
    var random = CountingSource()
    var messages: [[UInt8]] = []
    var offset = 0
    while offset + 2 <= input.count {
        let length = Int(input[offset]) << 8 | Int(input[offset + 1])
        offset += 2
        let end = min(offset + length, input.count)
        messages.append(Array(input[offset..<end]))
        offset = end
    }
    for bytes in messages {
        guard let message = try? CoordinatorMessage(decoding: bytes) else { continue }
        let phase = client.phase
        do {
            _ = try client.handle(message, using: &random)
        } catch {
            guard client.phase == phase else { fatalError("a refused message changed the phase: \(error)") }
        }
    }
    var session = ClientSession(configuration: configuration, input: [1, 2, 3, 4], task: nil)
    random = CountingSource()
    for bytes in messages {
        let ended = session.end
        let actions = session.handle(bytes, using: &random)
        if let ended {
            guard actions.isEmpty, session.end == ended else { fatalError("an ended session acted on a message") }
        }
    }
    return 0
}
