import SecAggTransport
import Testing

@Suite("Message reassembly")
struct MessageAssemblerTests {
    @Test("a message in one fragment, and an empty message, are complete at once")
    func singleFragment() throws {
        let whole = try MessageAssembler(firstFragment: [0, 0, 0, 3, 7, 8, 9], maximumMessageBytes: 16)
        #expect(whole.isComplete && whole.message == [7, 8, 9] && whole.announcedLength == 3)
        let empty = try MessageAssembler(firstFragment: [0, 0, 0, 0], maximumMessageBytes: 16)
        #expect(empty.isComplete && empty.message.isEmpty)
    }

    @Test("fragments add up to the announced length")
    func severalFragments() throws {
        var assembly = try MessageAssembler(firstFragment: [0, 0, 1, 0, 1], maximumMessageBytes: 1024)
        #expect(assembly.announcedLength == 256 && !assembly.isComplete)
        for value in 2...254 { try assembly.append([UInt8(value)]) }
        try assembly.append([255, 0])
        #expect(assembly.isComplete)
        #expect(assembly.message == (1...255).map { UInt8($0) } + [0])
    }

    @Test("bad first fragments are refused with a typed reason")
    func badFirstFragments() {
        #expect(throws: TransportError.malformedMessage(reason: "first fragment shorter than its length field")) {
            try MessageAssembler(firstFragment: [0, 0, 1], maximumMessageBytes: 16)
        }
        #expect(throws: TransportError.messageTooLarge(announced: 17, maximum: 16)) {
            try MessageAssembler(firstFragment: [0, 0, 0, 17], maximumMessageBytes: 16)
        }
        #expect(throws: TransportError.messageTooLarge(announced: 0xFFFF_FFFF, maximum: 16)) {
            try MessageAssembler(firstFragment: [0xFF, 0xFF, 0xFF, 0xFF], maximumMessageBytes: 16)
        }
        #expect(throws: TransportError.malformedMessage(reason: "fragment longer than the announced message")) {
            try MessageAssembler(firstFragment: [0, 0, 0, 1, 5, 6], maximumMessageBytes: 16)
        }
    }

    @Test("empty, overshooting and surplus fragments are refused and leave the message as it was")
    func badLaterFragments() throws {
        var assembly = try MessageAssembler(firstFragment: [0, 0, 0, 3, 1], maximumMessageBytes: 16)
        let refusal = TransportError.malformedMessage(reason: "fragments do not add up to the announced length")
        #expect(throws: refusal) { try assembly.append([]) }
        #expect(throws: refusal) { try assembly.append([2, 3, 4]) }
        #expect(assembly.message == [1])
        try assembly.append([2, 3])
        #expect(assembly.isComplete)
        #expect(throws: refusal) { try assembly.append([4]) }
        #expect(assembly.message == [1, 2, 3])
    }
}
