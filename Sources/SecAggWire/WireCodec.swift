/// Canonical binary encoding (SPEC §3 "Encoding").
///
/// TLS presentation-language style: fixed-width big-endian integers, length-prefixed byte strings and lists
/// with explicit maximums, no optional fields, no trailing bytes. The same value always has exactly one encoding,
/// so signatures and associated data can be computed over encodings.

/// Appends canonical encodings to a byte array, or only counts them (``measuring()``), so that an encoding can be
/// written into an array of exactly its size: at a thousand clients a round's outgoing requests are held at once,
/// and an array grown by doubling holds up to twice its bytes.
public struct WireWriter: Sendable {
    /// The bytes written so far (empty for a measuring writer).
    public private(set) var bytes: [UInt8]
    /// The number of bytes written (or, for a measuring writer, that would have been).
    public private(set) var count = 0
    private let measuresOnly: Bool

    /// Creates an empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
        measuresOnly = false
    }

    private init(measuring: Void) {
        bytes = []
        measuresOnly = true
    }

    /// A writer that stores nothing and only counts what it is given.
    public static func measuring() -> WireWriter { WireWriter(measuring: ()) }

    public mutating func write(_ value: UInt8) {
        count += 1
        if !measuresOnly { bytes.append(value) }
    }

    public mutating func write(_ value: UInt16) {
        count += 2
        guard !measuresOnly else { return }
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    public mutating func write(_ value: UInt32) {
        count += 4
        guard !measuresOnly else { return }
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    public mutating func write(_ value: UInt64) {
        count += 8
        guard !measuresOnly else { return }
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// Writes bytes with no length prefix (fixed-size fields).
    public mutating func writeFixed(_ value: some Collection<UInt8>) {
        count += value.count
        if !measuresOnly { bytes.append(contentsOf: value) }
    }

    /// Writes `value` behind an 8-, 16- or 32-bit length prefix (`prefixBytes` = 1, 2 or 4).
    ///
    /// - Precondition: the length fits the prefix; encoders only write values they built themselves.
    public mutating func writeOpaque(_ value: some Collection<UInt8>, prefixBytes: Int) {
        writeLength(value.count, prefixBytes: prefixBytes)
        writeFixed(value)
    }

    /// Writes a list: a 32-bit element count, then each element.
    public mutating func writeList<Element>(_ elements: [Element], _ encode: (inout WireWriter, Element) -> Void) {
        precondition(elements.count <= Int(UInt32.max), "list too long to encode")
        write(UInt32(elements.count))
        for element in elements { encode(&self, element) }
    }

    mutating func writeLength(_ length: Int, prefixBytes: Int) {
        switch prefixBytes {
        case 1:
            precondition(length <= Int(UInt8.max), "opaque field too long for an 8-bit prefix")
            write(UInt8(length))
        case 2:
            precondition(length <= Int(UInt16.max), "opaque field too long for a 16-bit prefix")
            write(UInt16(length))
        case 4:
            precondition(length <= Int(UInt32.max), "opaque field too long for a 32-bit prefix")
            write(UInt32(length))
        default:
            preconditionFailure("length prefixes are 1, 2 or 4 bytes")
        }
    }
}

/// Reads canonical encodings from untrusted bytes, never reading or allocating past the input.
public struct WireReader: Sendable {
    private let bytes: [UInt8]
    /// The position of the next byte to read.
    public private(set) var offset: Int

    /// Creates a reader over `bytes`.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int) throws(WireError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw .truncated(offset: offset, needed: count) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    public mutating func readUInt8() throws(WireError) -> UInt8 {
        try take(1).first!
    }

    public mutating func readUInt16() throws(WireError) -> UInt16 {
        try take(2).reduce(0) { $0 << 8 | UInt16($1) }
    }

    public mutating func readUInt32() throws(WireError) -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    public mutating func readUInt64() throws(WireError) -> UInt64 {
        try take(8).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Reads exactly `count` bytes (a fixed-size field).
    public mutating func readFixed(_ count: Int) throws(WireError) -> [UInt8] {
        Array(try take(count))
    }

    /// Reads a length-prefixed byte string of at most `maximum` bytes.
    ///
    /// - Throws: ``WireError/lengthExceedsMaximum(field:length:maximum:)`` before reading the body when the
    ///   prefix is larger than `maximum`; ``WireError/truncated(offset:needed:)`` when fewer bytes remain.
    public mutating func readOpaque(prefixBytes: Int, maximum: Int, field: String) throws(WireError) -> [UInt8] {
        let length: Int
        switch prefixBytes {
        case 1: length = Int(try readUInt8())
        case 2: length = Int(try readUInt16())
        default: length = Int(try readUInt32())
        }
        guard length <= maximum else {
            throw .lengthExceedsMaximum(field: field, length: length, maximum: maximum)
        }
        return Array(try take(length))
    }

    /// Reads a list: a 32-bit count (at most `maximum`, and at most one element per `minimumElementBytes` of the
    /// remaining input, so a forged count cannot make the reader allocate), then each element.
    public mutating func readList<Element>(
        maximum: Int,
        minimumElementBytes: Int,
        field: String,
        _ decode: (inout WireReader) throws(WireError) -> Element
    ) throws(WireError) -> [Element] {
        let count = Int(try readUInt32())
        guard count <= maximum else {
            throw .lengthExceedsMaximum(field: field, length: count, maximum: maximum)
        }
        let elementBytes = max(minimumElementBytes, 1)
        guard count <= remaining / elementBytes else {
            throw .truncated(offset: offset, needed: count * elementBytes)
        }
        var elements: [Element] = []
        elements.reserveCapacity(count)
        for _ in 0..<count {
            elements.append(try decode(&self))
        }
        return elements
    }

    /// Fails unless every byte was consumed.
    public func finish() throws(WireError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }
}

/// A value with exactly one canonical encoding.
public protocol WireEncodable {
    /// Appends the canonical encoding of `self`.
    func encode(into writer: inout WireWriter)
}

/// A value that can be read from untrusted canonical bytes.
public protocol WireDecodable {
    /// Reads one value, validating every length, range and enum code.
    init(from reader: inout WireReader) throws(WireError)
}

extension WireEncodable {
    /// The canonical encoding of `self`, in an array of exactly its size (the value is encoded twice: once to
    /// measure it).
    public var encoded: [UInt8] {
        var writer = WireWriter(capacity: encodedCount)
        encode(into: &writer)
        return writer.bytes
    }

    /// The number of bytes of the canonical encoding of `self`, without storing them.
    public var encodedCount: Int {
        var sizer = WireWriter.measuring()
        encode(into: &sizer)
        return sizer.count
    }
}

extension WireDecodable {
    /// Decodes a complete value from `bytes`, rejecting trailing bytes.
    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = WireReader(bytes)
        self = try Self(from: &reader)
        try reader.finish()
    }
}
