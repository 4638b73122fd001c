import SecAggTesting
import Testing
import SecAggProtocol
import SecAggWire

/// The per-phase message bounds a coordinator enforces before reading a message (SPEC §2.6.5) must admit every
/// message an honest client sends, and be tight: an honest round reaches them exactly, so a bound that is too large
/// (room for a stalled announcer) or too small (honest clients refused) fails here.
@Suite("Largest client message per phase")
struct MessageSizeTests {
    static func phase(ofType type: UInt8) -> RoundPhase? {
        switch type {
        case 0x41: return .advertiseKeys
        case 0x42: return .shareKeys
        case 0x43: return .maskedInputCollection
        case 0x44: return .consistencyCheck
        case 0x45: return .unmasking
        default: return nil
        }
    }

    // Every message sent in honest rounds (complete and Harary, odd and even degrees, both lane widths, both modes)
    // fits its phase's bound, and in a round without drops the largest message of each phase reaches the bound
    // exactly (unless the bound is the ClientAbort floor, which only an abort reaches).
    @Test(arguments: [
        (GraphShape.complete, UInt8(16), RoundMode.active, UInt32(12), UInt32(7)),
        (.complete, 64, .honestButCurious, 11, 3),
        (.harary(degree: 4), 24, .honestButCurious, 9, 3),
        (.harary(degree: 3), 40, .active, 9, 3),
    ])
    func honestMessagesFitTheirPhase(
        graph: GraphShape, bits: UInt8, mode: RoundMode, clients: UInt32, threshold: UInt32
    ) throws {
        var fixture = try RoundFixture(
            clients: clients, threshold: threshold, mode: mode, graph: graph, dimension: 301, bits: bits)
        try #require(try fixture.finish() != nil)
        var largest: [RoundPhase: Int] = [:]
        for (_, messages) in fixture.sent {
            for message in messages {
                let phase = try #require(Self.phase(ofType: message.typeCode))
                largest[phase] = max(largest[phase] ?? 0, message.encoded.count)
            }
        }
        for (phase, size) in largest {
            let bound = fixture.parameters.largestClientMessage(in: phase)
            #expect(size <= bound, "\(phase): \(size) bytes over the bound \(bound)")
            if bound > RoundParameters.largestClientAbortBytes {
                #expect(size == bound, "\(phase): the bound \(bound) is not reached by an honest round (\(size))")
            }
        }
        let tight = largest.filter { fixture.parameters.largestClientMessage(in: $0.key) > RoundParameters.largestClientAbortBytes }
        #expect(tight.keys.contains(.maskedInputCollection), "the masked vector must be above the abort floor here")
    }

    // Small messages are bounded by the largest ClientAbort (which a client may send at any time), and the round's
    // overall bound is the masked vector for a large dimension.
    @Test func abortAndOverallBounds() throws {
        let fixture = try RoundFixture(clients: 5, dimension: 100_000, bits: 32)
        let abort = ClientMessage.abort(ClientAbort(
            roundID: fixture.parameters.roundID, code: 0x0206, reason: String(repeating: "x", count: 5000)))
        #expect(abort.encoded.count == RoundParameters.largestClientAbortBytes)
        #expect(fixture.parameters.largestClientMessage(in: .advertiseKeys) == RoundParameters.largestClientAbortBytes)
        #expect(fixture.parameters.largestClientMessage(in: .consistencyCheck) == RoundParameters.largestClientAbortBytes)
        #expect(fixture.parameters.largestClientMessage == 2 + 1 + 16 + 4 + 400_000)
    }
}
