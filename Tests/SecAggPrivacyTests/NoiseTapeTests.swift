import Foundation
import SecAggCrypto
import SecAggPrivacy
import Testing

/// SPEC 5.12.1 ("The noise sampler's use of the random tape"): a straightforward re-implementation written from
/// that text alone (a bit reader over a byte tape, Bern / ExpUnit / ExpMinusOne / Exp / Magnitude / Sample), checked
/// against the library — same samples and exactly the same bytes consumed — and against the committed transcripts'
/// `noise_random_bytes`.
@Suite struct NoiseTapeTests {
    // MARK: Cases

    /// σ² as the (numerator, denominator) of RoundParameters; the reference reduces it itself.
    static let variances: [(UInt64, UInt64)] = [
        (1, 4),  // σ = 1/2, t = 1: no uniform bits
        (1, 1),
        (2, 1),  // the distributed transcript
        (9, 2),  // the central transcript
        (6, 4),  // not in lowest terms on the wire: 3/2
        (25, 1),
        (1000, 1),
        (1_000_000, 3),
        (1 << 40, 1),
        (2_147_483_647, 2_147_483_648),  // D = 2·n·d < 2^64 near 2^63: ExpUnit's split branch at W = 64
        (1 << 62, (1 << 62) - 1),  // D ≈ 2^127: the split branch at W = 128
        (1 << 62, 1),  // σ = 2^31, t = 2^31 + 1, ℓ = 32
    ]

    /// Vector lengths: one call with 32·m-byte chunks (m < 128), 4 KiB chunks from m = 128, and several calls
    /// from d = 4097 (the rest of each call's last chunk discarded).
    static let lengths: [Int] = [1, 7, 8, 127, 128, 129, 512, 513, 4096, 4097, 5000, 8193]

    // MARK: Library against the re-implementation

    @Test(arguments: variances, lengths)
    func vectorDrawsMatchTheSpecification(variance: (UInt64, UInt64), length: Int) throws {
        let gaussian = try DiscreteGaussian(sigmaSquared: try Rational(variance.0, variance.1))
        let tape = try Self.tape(variance, length, label: "vector")
        var source = TapeSource(tape)
        let library = Self.libraryVector(gaussian, count: length, using: &source)
        try #require(!source.overrun, "tape too short for the library")
        let reference = try ReferenceSampler(numerator: variance.0, denominator: variance.1)
            .vector(count: length, tape: tape)
        #expect(reference.samples == library, "σ² = \(variance.0)/\(variance.1), d = \(length): samples differ")
        #expect(reference.consumed == source.position, "σ² = \(variance.0)/\(variance.1), d = \(length): bytes")
        // Whole chunks only: one call (d ≤ 4096) consumes a multiple of its chunk size.
        if length <= 4096 { #expect(source.position % min(4096, 32 * length) == 0) }
    }

    /// One call of m > 4096 entries (`samples(count:)`) keeps one bit stream and 4 KiB chunks throughout; the
    /// protocol splits such a vector into calls of 4096 instead (checked above).
    @Test(arguments: variances)
    func oneLargeCallMatchesTheSpecification(variance: (UInt64, UInt64)) throws {
        let gaussian = try DiscreteGaussian(sigmaSquared: try Rational(variance.0, variance.1))
        let reference = try ReferenceSampler(numerator: variance.0, denominator: variance.1)
        for count in [5000, 8193] {
            let tape = try Self.tape(variance, count, label: "call")
            var source = TapeSource(tape)
            let library = gaussian.samples(count: count, using: &source)
            try #require(!source.overrun)
            var call = ReferenceCall(tape: tape, start: 0, entries: count)
            let expected = try (0..<count).map { _ in try reference.sample(&call) }
            #expect(expected == library, "σ² = \(variance.0)/\(variance.1), one call of \(count)")
            #expect(call.consumed == source.position)
        }
    }

    /// `sample(using:)` is a call with m = 1 (32-byte chunks).
    @Test(arguments: variances)
    func singleSamplesAreCallsOfOne(variance: (UInt64, UInt64)) throws {
        let gaussian = try DiscreteGaussian(sigmaSquared: try Rational(variance.0, variance.1))
        let reference = try ReferenceSampler(numerator: variance.0, denominator: variance.1)
        let tape = try Self.tape(variance, 300, label: "single")
        var source = TapeSource(tape)
        var start = 0
        for index in 0..<300 {
            let library = gaussian.sample(using: &source)
            var call = ReferenceCall(tape: tape, start: start, entries: 1)
            let expected = try reference.sample(&call)
            start += call.consumed
            #expect(expected == library, "σ² = \(variance.0)/\(variance.1), sample \(index)")
            #expect(start == source.position, "σ² = \(variance.0)/\(variance.1), bytes after sample \(index)")
            if expected != library || start != source.position { break }
        }
        #expect(!source.overrun)
    }

    // MARK: Committed transcripts

    @Test func committedNoiseTapesGiveTheListedSamples() throws {
        var checked = 0
        for name in try Self.transcriptFiles() {
            let data = try #require(FileManager.default.contents(atPath: Self.vectorDirectory + "/" + name))
            guard String(decoding: data, as: UTF8.self).contains("noise_random_bytes") else { continue }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let file = try decoder.decode(TranscriptFile.self, from: data)
            for transcript in file.cases {
                let numerator = try #require(transcript.parameters.noiseNumerator, "\(name): noise_numerator")
                let denominator = try #require(transcript.parameters.noiseDenominator, "\(name): noise_denominator")
                let dimension = transcript.parameters.dimension
                var draws: [(String, String, [Int64])] = []
                if let tape = transcript.coordinatorDraws?.noiseRandomBytes {
                    draws.append(("coordinator", tape, try #require(transcript.coordinatorNoise, "\(name)")))
                }
                for client in transcript.clients {
                    guard let tape = client.draws?.noiseRandomBytes else { continue }
                    draws.append(("client \(client.index)", tape, try #require(client.noise, "\(name) \(client.index)")))
                }
                let reference = try ReferenceSampler(numerator: numerator, denominator: denominator)
                let gaussian = try DiscreteGaussian(sigmaSquared: try Rational(numerator, denominator))
                for (who, hex, listed) in draws {
                    let tape = try Self.bytes(hex: hex)
                    #expect(listed.count == dimension, "\(name), \(who): one sample per entry")
                    let result = try reference.vector(count: dimension, tape: tape)
                    #expect(result.samples == listed, "\(name), \(who): the re-implementation's samples")
                    #expect(result.consumed == tape.count, "\(name), \(who): the tape is consumed exactly")
                    var source = TapeSource(tape)
                    #expect(Self.libraryVector(gaussian, count: dimension, using: &source) == listed)
                    #expect(source.position == tape.count && !source.overrun)
                    checked += 1
                }
            }
        }
        #expect(checked >= 2, "no noise tapes found in \(Self.vectorDirectory)")
    }

    // MARK: Helpers

    /// The library's vector draw as the protocol makes it (SecAggProtocol `ModularVector.addNoise`, which this
    /// target cannot import): `fill` on consecutive blocks of at most 4096 entries.
    private static func libraryVector(_ gaussian: DiscreteGaussian, count: Int, using source: inout TapeSource) -> [Int64] {
        var samples = [Int64](repeating: 0, count: count)
        var start = 0
        while start < count {
            let take = min(4096, count - start)
            samples.withUnsafeMutableBufferPointer { buffer in
                gaussian.fill(UnsafeMutableBufferPointer(rebasing: buffer[start..<start + take]), using: &source)
            }
            start += take
        }
        return samples
    }

    /// A reproducible tape, long enough for `count` samples with 4 KiB of slack per call.
    private static func tape(_ variance: (UInt64, UInt64), _ count: Int, label: String) throws -> [UInt8] {
        var material = Array("secagg/tests/noise-tape/\(label)".utf8)
        for value in [variance.0, variance.1, UInt64(count)] {
            withUnsafeBytes(of: value.littleEndian) { material.append(contentsOf: $0) }
        }
        var coin = try PublicCoin(seed: Blake2b.hash(material, outputByteCount: 32))
        return coin.bytes(64 * count + 4096 * (count / 4096 + 2))
    }

    private static let vectorDirectory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent("protocol/vectors").path
    }()

    private static func transcriptFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: vectorDirectory)
            .filter { $0.hasPrefix("transcript_") && $0.hasSuffix(".json") }.sorted()
    }

    private static func bytes(hex: String) throws -> [UInt8] {
        let digits = Array(hex.utf8)
        try #require(digits.count % 2 == 0)
        func nibble(_ c: UInt8) throws -> UInt8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            default: throw TapeError.badHex
            }
        }
        return try stride(from: 0, to: digits.count, by: 2).map { try nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }
}

// MARK: - The transcripts' layout (only the fields read here)

private struct TranscriptFile: Decodable {
    var cases: [TranscriptCase]
}

private struct TranscriptCase: Decodable {
    struct Parameters: Decodable {
        var dimension: Int
        var noiseNumerator: UInt64?
        var noiseDenominator: UInt64?
    }
    struct Draws: Decodable {
        var noiseRandomBytes: String?
    }
    struct Client: Decodable {
        var index: UInt32
        var draws: Draws?
        var noise: [Int64]?
    }
    var parameters: Parameters
    var clients: [Client]
    var coordinatorDraws: Draws?
    var coordinatorNoise: [Int64]?
}

// MARK: - The library's side: a tape served through a RandomSource

/// Serves `tape` and counts the bytes taken; past its end it serves arbitrary (non-constant) bytes and says so.
private struct TapeSource: RandomSource {
    let tape: [UInt8]
    private(set) var position = 0
    private(set) var overrun = false
    private var filler: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(_ tape: [UInt8]) { self.tape = tape }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        for offset in 0..<buffer.count {
            if position < tape.count {
                buffer[offset] = tape[position]
            } else {
                overrun = true
                filler ^= filler << 13
                filler ^= filler >> 7
                filler ^= filler << 17
                buffer[offset] = UInt8(truncatingIfNeeded: filler)
            }
            position += 1
        }
    }
}

// MARK: - The re-implementation of SPEC 5.12.1

private enum TapeError: Error {
    case exhausted
    case badHex
}

/// One call: its bit stream over the tape from `start`, in chunks of C = min(4096, 32·m) bytes.
private struct ReferenceCall {
    let tape: [UInt8]
    let start: Int
    let chunk: Int
    /// Index of the next bit to read.
    private(set) var next = 0

    init(tape: [UInt8], start: Int, entries m: Int) {
        self.tape = tape
        self.start = start
        chunk = min(4096, 32 * m)
    }

    /// Bytes consumed: whole chunks, C·⌈B/(8·C)⌉ for B bits read.
    var consumed: Int { chunk * ((next + 8 * chunk - 1) / (8 * chunk)) }

    /// b_i = ⌊β_⌊i/8⌋ / 2^(i mod 8)⌋ mod 2.
    mutating func bit() throws -> UInt64 {
        let index = start + next / 8
        guard index < tape.count else { throw TapeError.exhausted }
        let value = UInt64(tape[index] >> UInt8(next % 8)) & 1
        next += 1
        return value
    }

    /// Σ_{k<c} b_{i+k}·2^k.
    mutating func bits(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<count { value |= try bit() << UInt64(k) }
        return value
    }
}

/// Algorithms 1–3 as SPEC 5.12.1 writes them.
private struct ReferenceSampler {
    let n: UInt64
    let d: UInt64
    let t: UInt64
    let bitLength: Int
    let cap: UInt64
    let bigD: UInt128

    init(numerator: UInt64, denominator: UInt64) throws {
        var a = numerator
        var b = denominator
        while b != 0 { (a, b) = (b, a % b) }
        n = numerator / a
        d = denominator / a
        // t = ⌊√⌊n/d⌋⌋ + 1, by bisection on the integer square root.
        let q = n / d
        var low: UInt64 = 0
        var high: UInt64 = 1 << 32
        while high - low > 1 {
            let middle = (low + high) / 2
            if UInt128(middle) * UInt128(middle) <= UInt128(q) { low = middle } else { high = middle }
        }
        t = low + 1
        var length = 0
        while length < 64 && (t - 1) >> UInt64(length) != 0 { length += 1 }
        bitLength = length
        cap = (1 << 62) / t + 1
        bigD = 2 * UInt128(n) * UInt128(d) * UInt128(t) * UInt128(t)
    }

    func bern(_ p: UInt128, _ q: UInt128, _ call: inout ReferenceCall) throws -> Bool {
        if p >= q { return true }
        var r = p
        while r != 0 {
            let g: UInt64
            if r >= q - r {  // 2r ≥ q
                g = 1
                r = r - (q - r)
            } else {
                g = 0
                r = 2 * r
            }
            if try call.bit() != g { return g == 1 }
        }
        return false
    }

    func expUnit(_ x: UInt128, _ q: UInt128, width: Int, _ call: inout ReferenceCall) throws -> Bool {
        if x == 0 { return true }
        var k: UInt128 = 1
        while true {
            let (product, overflow) = q.multipliedReportingOverflow(by: k)
            let fits = !overflow && (width == 128 || product < UInt128(1) << 64)
            let a: Bool
            if fits {
                a = try bern(x, product, &call)
            } else {
                a = try bern(x, q, &call) && bern(1, k, &call)
            }
            if !a { return k % 2 == 1 }
            k += 1
        }
    }

    func expMinusOne(_ call: inout ReferenceCall) throws -> Bool {
        var k: UInt128 = 2
        while try bern(1, k, &call) { k += 1 }
        return k % 2 == 1
    }

    /// exp(−N/D) for N = high·2^128 + low.
    func exp(high: UInt128, low: UInt128, _ call: inout ReferenceCall) throws -> Bool {
        var high = high
        var low = low
        while high != 0 || low >= bigD {
            if try !expMinusOne(&call) { return false }
            if low >= bigD {
                low -= bigD
            } else {
                high -= 1
                low = low &- bigD  // low + 2^128 − D
            }
        }
        return try expUnit(low, bigD, width: bigD < UInt128(1) << 64 ? 64 : 128, &call)
    }

    /// nil is ⊥.
    func magnitude(_ call: inout ReferenceCall) throws -> UInt64? {
        while true {
            var u: UInt64 = 0
            if t > 1 {
                repeat { u = try call.bits(bitLength) } while u >= t
            }
            if try !expUnit(UInt128(u), UInt128(t), width: 64, &call) { continue }
            var v: UInt64 = 0
            while try expMinusOne(&call) {
                v += 1
                if v == cap { return nil }
            }
            return u + t * v
        }
    }

    func sample(_ call: inout ReferenceCall) throws -> Int64 {
        while true {
            guard let a = try magnitude(&call) else {
                while try expMinusOne(&call) {}
                continue
            }
            let s = try call.bit()
            if s == 1 && a == 0 { continue }
            let adt = UInt128(a) * UInt128(d) * UInt128(t)
            let offset = adt >= UInt128(n) ? adt - UInt128(n) : UInt128(n) - adt
            let square = offset.multipliedFullWidth(by: offset)
            if try exp(high: square.high, low: square.low, &call) { return s == 1 ? -Int64(a) : Int64(a) }
        }
    }

    /// A vector of `count` samples in calls of at most 4096 entries; the bytes consumed in total.
    func vector(count: Int, tape: [UInt8]) throws -> (samples: [Int64], consumed: Int) {
        var samples: [Int64] = []
        var position = 0
        var first = 0
        while first < count {
            let m = min(4096, count - first)
            var call = ReferenceCall(tape: tape, start: position, entries: m)
            for _ in 0..<m { samples.append(try sample(&call)) }
            position += call.consumed
            first += m
        }
        return (samples, position)
    }
}
