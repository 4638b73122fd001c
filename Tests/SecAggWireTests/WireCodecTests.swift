import Testing
import SecAggWire

@Suite("WireWriter and WireReader primitives")
struct WireCodecTests {
    // Integers are written big-endian, most significant byte first, at their exact width.
    @Test func integersAreBigEndian() {
        var writer = WireWriter()
        writer.write(UInt8(0xab))
        writer.write(UInt16(0x0102))
        writer.write(UInt32(0x0304_0506))
        writer.write(UInt64(0x0708_090a_0b0c_0d0e))
        #expect(writer.bytes == hex("ab 0102 03040506 0708090a0b0c0d0e"))
    }

    // Reading back what was written yields the same integers and consumes exactly the input.
    @Test(arguments: [UInt64.min, 1, 0xff, 0x1234_5678_9abc_def0, UInt64.max])
    func integersRoundTrip(value: UInt64) throws {
        var writer = WireWriter()
        writer.write(UInt8(truncatingIfNeeded: value))
        writer.write(UInt16(truncatingIfNeeded: value))
        writer.write(UInt32(truncatingIfNeeded: value))
        writer.write(value)
        var reader = WireReader(writer.bytes)
        #expect(try reader.readUInt8() == UInt8(truncatingIfNeeded: value))
        #expect(try reader.readUInt16() == UInt16(truncatingIfNeeded: value))
        #expect(try reader.readUInt32() == UInt32(truncatingIfNeeded: value))
        #expect(try reader.readUInt64() == value)
        #expect(reader.remaining == 0)
        try reader.finish()
    }

    // A read past the end reports the offset and the size of the field that did not fit.
    @Test func shortReadReportsOffsetAndNeed() throws {
        var reader = WireReader([1, 2, 3])
        _ = try reader.readUInt16()
        #expect(throws: WireError.truncated(offset: 2, needed: 4)) { try reader.readUInt32() }
        // The failed read consumed nothing.
        #expect(reader.offset == 2)
        #expect(try reader.readUInt8() == 3)
        #expect(throws: WireError.truncated(offset: 3, needed: 8)) { try reader.readUInt64() }
        #expect(throws: WireError.truncated(offset: 0, needed: 1)) {
            var empty = WireReader([])
            _ = try empty.readUInt8()
        }
    }

    // Opaque values carry a 1-, 2- or 4-byte big-endian length prefix, then the bytes.
    @Test(arguments: [1, 2, 4])
    func opaquePrefixes(prefixBytes: Int) throws {
        let body = ramp(5, from: 0x61)
        var writer = WireWriter()
        writer.writeOpaque(body, prefixBytes: prefixBytes)
        let expectedPrefix = [UInt8](repeating: 0, count: prefixBytes - 1) + [5]
        #expect(writer.bytes == expectedPrefix + body)
        var reader = WireReader(writer.bytes)
        #expect(try reader.readOpaque(prefixBytes: prefixBytes, maximum: 5, field: "f") == body)
        try reader.finish()
    }

    // A prefix larger than the maximum fails before the body is read, even when the body is present.
    @Test(arguments: [1, 2, 4])
    func opaqueOverMaximum(prefixBytes: Int) {
        var writer = WireWriter()
        writer.writeOpaque(ramp(6, from: 0), prefixBytes: prefixBytes)
        var reader = WireReader(writer.bytes)
        #expect(throws: WireError.lengthExceedsMaximum(field: "f", length: 6, maximum: 5)) {
            try reader.readOpaque(prefixBytes: prefixBytes, maximum: 5, field: "f")
        }
    }

    // A 4-byte prefix of 0xFFFFFFFF with a large maximum is rejected as truncated, not trusted.
    @Test func opaqueLengthBeyondInputIsTruncated() {
        var reader = WireReader(hex("ffffffff 0102"))
        #expect(throws: WireError.truncated(offset: 4, needed: 0xffff_ffff)) {
            try reader.readOpaque(prefixBytes: 4, maximum: Int(UInt32.max), field: "f")
        }
    }

    // An empty opaque value is legal and encodes as just its prefix.
    @Test func emptyOpaque() throws {
        var writer = WireWriter()
        writer.writeOpaque([UInt8](), prefixBytes: 2)
        #expect(writer.bytes == [0, 0])
        var reader = WireReader(writer.bytes)
        #expect(try reader.readOpaque(prefixBytes: 2, maximum: 0, field: "f") == [])
    }

    // Lists are a u32 count followed by the elements, and read back element by element.
    @Test func listRoundTrip() throws {
        var writer = WireWriter()
        writer.writeList([UInt16(1), 0x0203, 0xfffe]) { writer, value in writer.write(value) }
        #expect(writer.bytes == hex("00000003 0001 0203 fffe"))
        var reader = WireReader(writer.bytes)
        let values = try reader.readList(maximum: 3, minimumElementBytes: 2, field: "l") {
            (reader: inout WireReader) throws(WireError) in try reader.readUInt16()
        }
        #expect(values == [1, 0x0203, 0xfffe])
        try reader.finish()
    }

    // A count above the list's maximum is rejected without calling the element decoder.
    @Test func listCountOverMaximum() {
        var reader = WireReader(hex("00000004 0001 0002 0003 0004"))
        var calls = 0
        #expect(throws: WireError.lengthExceedsMaximum(field: "l", length: 4, maximum: 3)) {
            try reader.readList(maximum: 3, minimumElementBytes: 2, field: "l") {
                (reader: inout WireReader) throws(WireError) in
                calls += 1
                return try reader.readUInt16()
            }
        }
        #expect(calls == 0)
    }

    // A count the remaining bytes cannot hold fails up front: no element is decoded and nothing is reserved.
    @Test(arguments: [UInt32(3), 1_000, 1_000_000, 0xffff_ffff])
    func listCountBeyondRemainingBytes(count: UInt32) {
        var writer = WireWriter()
        writer.write(count)
        writer.writeFixed(ramp(5, from: 0))  // room for 2 elements of 2 bytes, not 3
        var reader = WireReader(writer.bytes)
        var calls = 0
        let error: WireError? = {
            do throws(WireError) {
                _ = try reader.readList(maximum: Int(UInt32.max), minimumElementBytes: 2, field: "l") {
                    (reader: inout WireReader) throws(WireError) in
                    calls += 1
                    return try reader.readUInt16()
                }
                return nil
            } catch { return error }
        }()
        #expect(error == .truncated(offset: 4, needed: Int(count) * 2))
        #expect(calls == 0)
    }

    // A minimum element size of 0 is treated as 1 byte, so a zero-size element type cannot be used to force a huge count.
    @Test func listZeroMinimumElementSize() {
        var reader = WireReader(hex("00100000 00"))
        #expect(throws: WireError.truncated(offset: 4, needed: 0x0010_0000)) {
            try reader.readList(maximum: Int(UInt32.max), minimumElementBytes: 0, field: "l") {
                (reader: inout WireReader) throws(WireError) in ()
            }
        }
    }

    // finish() rejects unread bytes and reports how many.
    @Test func finishRejectsLeftovers() throws {
        var reader = WireReader([1, 2, 3, 4])
        _ = try reader.readUInt8()
        #expect(throws: WireError.trailingBytes(count: 3)) { try reader.finish() }
        _ = try reader.readFixed(3)
        try reader.finish()
    }

    // Participant index 0 (Shamir's secret point) is rejected with the caller's field name.
    @Test func participantIndexZero() throws {
        var reader = WireReader(hex("00000000"))
        #expect(invalidField({
            do throws(WireError) { _ = try reader.readParticipantIndex(field: "who"); return nil } catch { return error }
        }()) == "who")
        var valid = WireReader(hex("ffffffff"))
        #expect(try valid.readParticipantIndex(field: "who") == UInt32.max)
    }
}

@Suite("Hex helpers")
struct HexTests {
    // hexString is lowercase, two digits per byte, covering every byte value.
    @Test func hexStringAllBytes() {
        let all = (0...255).map { UInt8($0) }
        let text = hexString(all)
        #expect(text.count == 512)
        #expect(text.hasPrefix("000102"))
        #expect(text.hasSuffix("fdfeff"))
        #expect(text == text.lowercased())
        #expect(bytes(fromHex: text) == all)
    }

    // Known values in both cases decode; an empty string is an empty array.
    @Test func parsesBothCases() {
        #expect(bytes(fromHex: "00ff10aB") == [0x00, 0xff, 0x10, 0xab])
        #expect(bytes(fromHex: "DEADbeef") == [0xde, 0xad, 0xbe, 0xef])
        #expect(bytes(fromHex: "") == [])
        #expect(hexString([UInt8]()) == "")
    }

    // Anything but an even number of hex digits is rejected.
    @Test(arguments: ["0", "abc", "0g", "zz", " 00", "00 ", "0x00", "-1", "é0", "00\n"])
    func rejectsMalformed(text: String) {
        #expect(bytes(fromHex: text) == nil)
    }
}
