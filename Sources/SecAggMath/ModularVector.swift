import SecAggCrypto

/// A vector of integers modulo 2^bits (1 ≤ bits ≤ 64): an input, a masked input, or the coordinator's running sum.
///
/// Lanes are stored as `UInt32` when `bits ≤ 32` (half the memory and bandwidth of the common case) and as
/// `UInt64` otherwise; every lane is always below 2^bits. Arithmetic wraps modulo 2^bits, which is exactly what
/// makes masks cancel: the mask PRG (``MaskExpander``) produces lanes of the same width and reduction.
public struct ModularVector: Sendable, Equatable {
    /// The lane storage; which case is used depends only on `bits`.
    public enum Lanes: Sendable, Equatable {
        /// 32-bit lanes, used when `bits ≤ 32`.
        case narrow([UInt32])
        /// 64-bit lanes, used when `bits > 32`.
        case wide([UInt64])
    }

    /// The modulus exponent: lanes are integers modulo 2^bits.
    public let bits: Int

    /// The lanes, each below 2^bits.
    public private(set) var lanes: Lanes

    /// The number of lanes.
    public var count: Int {
        switch lanes {
        case .narrow(let values): values.count
        case .wide(let values): values.count
        }
    }

    /// Bytes per lane in memory and in ``encoded()``: 4 when `bits ≤ 32`, else 8.
    public var laneByteCount: Int { Self.laneByteCount(bits: bits) }

    /// 2^bits − 1, the mask that reduces a lane.
    public var modulusMask: UInt64 { Self.mask(bits: bits) }

    /// A vector of `count` zeros, e.g. the coordinator's empty accumulator.
    ///
    /// - Precondition: `count >= 0`.
    /// - Throws: ``VectorError/invalidBits(_:)`` unless `bits` is in 1...64.
    public init(zeros count: Int, bits: Int) throws(VectorError) {
        precondition(count >= 0, "ModularVector: negative count")
        try Self.checkBits(bits)
        self.bits = bits
        lanes = bits <= 32 ? .narrow(Array(repeating: 0, count: count)) : .wide(Array(repeating: 0, count: count))
    }

    /// A vector holding `values`, each of which must already be reduced.
    ///
    /// - Throws: ``VectorError/invalidBits(_:)``, or ``VectorError/valueOutOfRange(index:)`` for the first value
    ///   not below 2^bits (values are not silently reduced: an out-of-range input is a caller's encoding bug).
    public init(values: [UInt64], bits: Int) throws(VectorError) {
        try Self.checkBits(bits)
        let mask = Self.mask(bits: bits)
        if let index = values.firstIndex(where: { $0 & ~mask != 0 }) { throw .valueOutOfRange(index: index) }
        self.bits = bits
        lanes = bits <= 32 ? .narrow(values.map { UInt32(truncatingIfNeeded: $0) }) : .wide(values)
    }

    /// The lanes widened to `UInt64`.
    public var values: [UInt64] {
        switch lanes {
        case .narrow(let values): values.map(UInt64.init)
        case .wide(let values): values
        }
    }

    /// Lane `index`, widened to `UInt64`.
    ///
    /// - Precondition: `0 <= index < count`.
    public subscript(index: Int) -> UInt64 {
        switch lanes {
        case .narrow(let values): UInt64(values[index])
        case .wide(let values): values[index]
        }
    }

    /// Adds `other` lane by lane, modulo 2^bits (the coordinator's accumulation step).
    ///
    /// - Throws: ``VectorError/shapeMismatch(expected:actual:)`` with the two counts if they differ, or with the two
    ///   `bits` values if the moduli differ; `self` is unchanged then.
    public mutating func add(_ other: ModularVector) throws(VectorError) {
        try combine(with: other, subtracting: false)
    }

    /// Subtracts `other` lane by lane, modulo 2^bits (for example to remove a reconstructed mask).
    ///
    /// - Throws: ``VectorError/shapeMismatch(expected:actual:)`` as for ``add(_:)``; `self` is unchanged then.
    public mutating func subtract(_ other: ModularVector) throws(VectorError) {
        try combine(with: other, subtracting: true)
    }

    /// Adds or subtracts, in place, the mask that ``MaskExpander`` expands from `seed` (lane i of the ChaCha20
    /// keystream, reduced modulo 2^bits). No mask vector is materialised.
    public mutating func applyMask(seed: SymmetricKey, direction: MaskExpander.Direction) {
        let bits = self.bits
        switch lanes {
        case .narrow(var values):
            lanes = .narrow([])  // drop the enum's reference so `values` is uniquely owned: no copy on write
            values.withUnsafeMutableBufferPointer { buffer in
                MaskExpander.apply(seed: seed, to: buffer, bits: bits, direction: direction)
            }
            lanes = .narrow(values)
        case .wide(var values):
            lanes = .wide([])
            values.withUnsafeMutableBufferPointer { buffer in
                MaskExpander.apply(seed: seed, to: buffer, bits: bits, direction: direction)
            }
            lanes = .wide(values)
        }
    }

    /// Applies several masks in one pass over the lanes (``MaskExpander/apply(_:to:bits:)-(_,UnsafeMutableBufferPointer<UInt32>,_)``):
    /// the same result as ``applyMask(seed:direction:)`` for each, in less time.
    public mutating func applyMasks(_ masks: [MaskExpander.Mask]) {
        let bits = self.bits
        switch lanes {
        case .narrow(var values):
            lanes = .narrow([])  // unique ownership of `values`, see applyMask
            values.withUnsafeMutableBufferPointer { MaskExpander.apply(masks, to: $0, bits: bits) }
            lanes = .narrow(values)
        case .wide(var values):
            lanes = .wide([])
            values.withUnsafeMutableBufferPointer { MaskExpander.apply(masks, to: $0, bits: bits) }
            lanes = .wide(values)
        }
    }

    /// The wire form: each lane little-endian in ``laneByteCount`` bytes, `count · laneByteCount` bytes in all.
    public func encoded() -> [UInt8] {
        switch lanes {
        case .narrow(let values): Self.encode(values)
        case .wide(let values): Self.encode(values)
        }
    }

    /// Decodes `count` lanes written by ``encoded()``.
    ///
    /// The length is checked before anything is allocated, so a hostile length cannot cause a large allocation.
    ///
    /// - Throws: ``VectorError/invalidBits(_:)``; ``VectorError/invalidEncodingLength(expected:actual:)`` unless
    ///   `bytes.count == count · laneByteCount` (a negative or overflowing `count` reports `expected` as -1);
    ///   ``VectorError/valueOutOfRange(index:)`` for the first lane not below 2^bits.
    public init(decoding bytes: some Collection<UInt8>, count: Int, bits: Int) throws(VectorError) {
        try Self.checkBits(bits)
        let laneBytes = Self.laneByteCount(bits: bits)
        let (expected, overflow) = count.multipliedReportingOverflow(by: laneBytes)
        guard count >= 0, !overflow else { throw .invalidEncodingLength(expected: -1, actual: bytes.count) }
        guard bytes.count == expected else { throw .invalidEncodingLength(expected: expected, actual: bytes.count) }

        let decoded =
            bytes.withContiguousStorageIfAvailable { Self.decodeLanes(UnsafeRawBufferPointer($0), bits: bits) }
            ?? Array(bytes).withUnsafeBytes { Self.decodeLanes($0, bits: bits) }
        self.bits = bits
        self.lanes = decoded
        if let index = firstOutOfRangeIndex() { throw .valueOutOfRange(index: index) }
    }

    // MARK: - Internals

    /// Throws unless `bits` is in 1...64.
    private static func checkBits(_ bits: Int) throws(VectorError) {
        guard (1...64).contains(bits) else { throw .invalidBits(bits) }
    }

    /// Bytes per encoded lane: 4 for `bits ≤ 32`, else 8.
    public static func laneByteCount(bits: Int) -> Int {
        bits <= 32 ? 4 : 8
    }

    /// 2^bits − 1.
    private static func mask(bits: Int) -> UInt64 {
        bits >= 64 ? .max : (1 << UInt64(bits)) &- 1
    }

    /// The shared add/subtract loop: `lane = (lane ± other) & mask`, branch-free over unsafe buffers.
    private mutating func combine(with other: ModularVector, subtracting: Bool) throws(VectorError) {
        guard other.count == count else { throw .shapeMismatch(expected: count, actual: other.count) }
        guard other.bits == bits else { throw .shapeMismatch(expected: bits, actual: other.bits) }
        switch (lanes, other.lanes) {
        case (.narrow(var values), .narrow(let addend)):
            lanes = .narrow([])  // unique ownership of `values`, see applyMask
            Self.fold(&values, addend, mask: UInt32(truncatingIfNeeded: modulusMask), subtracting: subtracting)
            lanes = .narrow(values)
        case (.wide(var values), .wide(let addend)):
            lanes = .wide([])
            Self.fold(&values, addend, mask: modulusMask, subtracting: subtracting)
            lanes = .wide(values)
        default:
            // Equal `bits` always select the same lane width.
            preconditionFailure("ModularVector: lane widths disagree for equal bits")
        }
    }

    /// `values[i] = (values[i] ± addend[i]) & mask`; two separate loops so each vectorises.
    @inline(__always)
    private static func fold<Lane: FixedWidthInteger & UnsignedInteger>(
        _ values: inout [Lane], _ addend: [Lane], mask: Lane, subtracting: Bool
    ) {
        values.withUnsafeMutableBufferPointer { target in
            addend.withUnsafeBufferPointer { source in
                guard let targetBase = target.baseAddress, let sourceBase = source.baseAddress else { return }
                let count = min(target.count, source.count)
                if subtracting {
                    for index in 0..<count { targetBase[index] = (targetBase[index] &- sourceBase[index]) & mask }
                } else {
                    for index in 0..<count { targetBase[index] = (targetBase[index] &+ sourceBase[index]) & mask }
                }
            }
        }
    }

    /// Little-endian bytes of `values`.
    private static func encode<Lane: FixedWidthInteger>(_ values: [Lane]) -> [UInt8] {
        let size = MemoryLayout<Lane>.size
        var bytes = [UInt8](repeating: 0, count: values.count * size)
        bytes.withUnsafeMutableBytes { raw in
            values.withUnsafeBufferPointer { source in
                for index in source.indices {
                    raw.storeBytes(of: source[index].littleEndian, toByteOffset: index * size, as: Lane.self)
                }
            }
        }
        return bytes
    }

    /// The lane storage for `bits` read from `raw`.
    private static func decodeLanes(_ raw: UnsafeRawBufferPointer, bits: Int) -> Lanes {
        bits <= 32 ? .narrow(decode(raw)) : .wide(decode(raw))
    }

    /// Lanes read little-endian from `raw` (whose length is a multiple of the lane size).
    private static func decode<Lane: FixedWidthInteger>(_ raw: UnsafeRawBufferPointer) -> [Lane] {
        let size = MemoryLayout<Lane>.size
        return [Lane](unsafeUninitializedCapacity: raw.count / size) { buffer, initialized in
            for index in 0..<(raw.count / size) {
                buffer[index] = Lane(littleEndian: raw.loadUnaligned(fromByteOffset: index * size, as: Lane.self))
            }
            initialized = raw.count / size
        }
    }

    /// The first lane not below 2^bits, if any (a branch-free OR over all lanes first, then a search).
    private func firstOutOfRangeIndex() -> Int? {
        let mask = modulusMask
        switch lanes {
        case .narrow(let values):
            let excess = ~UInt32(truncatingIfNeeded: mask)
            guard values.reduce(0, { $0 | $1 }) & excess != 0 else { return nil }
            return values.firstIndex { $0 & excess != 0 }
        case .wide(let values):
            guard values.reduce(0, { $0 | $1 }) & ~mask != 0 else { return nil }
            return values.firstIndex { $0 & ~mask != 0 }
        }
    }
}

/// Why a ``ModularVector`` operation refused its input.
public enum VectorError: Error, Equatable, Sendable {
    /// `bits` is outside 1...64.
    case invalidBits(Int)
    /// The value at `index` is not below 2^bits.
    case valueOutOfRange(index: Int)
    /// The two vectors differ in length (or, if the lengths agree, in `bits`).
    case shapeMismatch(expected: Int, actual: Int)
    /// An encoding does not have exactly `count · laneByteCount` bytes.
    case invalidEncodingLength(expected: Int, actual: Int)
}
