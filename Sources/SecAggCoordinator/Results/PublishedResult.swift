import Foundation
import SecAggProtocol
import SecAggWire

/// A finished round as the coordinator publishes it: the result file (`results/<task>/<round id>.json`),
/// `secagg admin result show|export`, the audit's `sum-hash` and the CLI's harnesses all write or read this one
/// type, so a field means the same everywhere. JSON keys are snake_case and stable.
///
/// The released sum is given as a person reads it (``sum``): the exact integers without noise, and with noise the
/// signed reading SPEC §5.10 prescribes (a lane v ≥ 2^(bits−1) stands for v − 2^bits), next to the residues
/// modulo 2^bits as they came off the wire (``residues``); when the task's clients encode real vectors, also decoded
/// into reals (``decoded``). Never an individual input.
public struct PublishedResult: Sendable, Equatable {
    /// How the round ended.
    public enum Outcome: String, Codable, Sendable {
        case completed
        case aborted
    }

    /// The round's parameters, as the clients agreed to them.
    public struct Parameters: Codable, Sendable, Equatable {
        public var clients: Int
        public var dimension: Int
        /// Arithmetic is modulo 2^bits.
        public var bits: Int
        public var maximumInput: UInt64
        public var threshold: Int
        public var minimumSurvivors: Int
        /// `complete` or `harary(k)`.
        public var graph: String
        /// `honest` (honest-but-curious) or `active`.
        public var mode: String

        enum CodingKeys: String, CodingKey {
            case clients, dimension, bits, threshold, graph, mode
            case maximumInput = "maximum_input"
            case minimumSurvivors = "minimum_survivors"
        }
    }

    /// The differential-privacy noise in the release.
    public struct Noise: Codable, Sendable, Equatable {
        /// Who added it: nobody, the coordinator (central) or every client (distributed).
        public enum Kind: String, Codable, Sendable {
            case none
            case central
            case distributed
        }

        public var kind: Kind
        /// The exact variance each sampler used, as the fraction on the wire ("n/d"): the coordinator's one sample
        /// per entry (central) or each client's (distributed); nil without noise.
        public var variance: String?
        /// The standard deviation of the noise in each released entry: √variance centrally, √(variance × survivors)
        /// with distributed noise (the survivors' samples add up); nil without noise or without a release.
        public var sigma: Double?
    }

    /// Why the round released nothing.
    public struct Abort: Codable, Sendable, Equatable {
        /// The SPEC §9.1 code as four hex digits, e.g. `0x0207`.
        public var code: String
        /// The code's SPEC §9.1 name, e.g. `budgetExhausted`.
        public var name: String
        public var reason: String
        /// The phase open when the round aborted (nil if it never started).
        public var phase: String?

        public init(_ reason: AbortReason, phase: RoundPhase?) {
            code = reason.code.hex
            name = reason.code.name
            self.reason = reason.detail
            self.phase = phase.map { "\($0)" }
        }
    }

    public var task: String
    /// The round identifier, 32 hex digits.
    public var roundID: String
    public var outcome: Outcome
    public var finishedAt: Date
    public var parameters: Parameters
    public var noise: Noise
    /// Public keys (hex) of the clients whose inputs are in the sum.
    public var survivorIdentities: [String]
    /// The released sum modulo 2^bits, entries in order, as on the wire (nil if the round aborted).
    public var residues: [UInt64]?
    public var abort: Abort?
    /// Seconds each phase stayed open, clients at each phase's start and dropped in each, by phase name.
    public var phaseSeconds: [String: Double]
    public var phaseCounts: [String: Int]
    public var droppedPerPhase: [String: Int]
    public var wallSeconds: Double
    /// Rebuilt from the store after a crash rather than recorded as the round ended (timings may be partial).
    public var recovered: Bool
    /// The real-vector encoder the task's clients used (SPEC §5.11), if any.
    public var encoder: RealVectorEncoding?

    /// With a real-vector ``encoder``, the released sum decoded into reals (``RealVectorEncoding/dimension``
    /// entries): the sum of the survivors' clipped vectors, plus noise and rounding error. Nil without an encoder or
    /// a release.
    public var decoded: [Double]? {
        guard let encoder, let residues else { return nil }
        return try? encoder.decodeSum(residues, survivors: survivorIdentities.count, bits: parameters.bits)
    }

    /// Whether the release is read as signed (SPEC §5.10): whenever it carries noise.
    public var isSigned: Bool { noise.kind != .none }

    /// The released sum as a person reads it: the residues without noise, their signed reading with noise (nil if
    /// the round aborted). Without noise a sum that needs all 64 bits is given by ``residues`` alone.
    public var sum: [Int64]? {
        guard let residues else { return nil }
        let bits = parameters.bits
        if isSigned { return residues.map { Self.signed($0, bits: bits) } }
        return residues.allSatisfy { $0 <= UInt64(Int64.max) } ? residues.map { Int64($0) } : nil
    }

    /// The released sum as CSV (`secagg admin result export --format csv`): `index,value` with the value as a person
    /// reads it (``sum``) and, when the release carries noise, a third column with the residue as released; nil if
    /// the round released nothing.
    public var csv: String? {
        guard let residues else { return nil }
        guard isSigned, let signed = sum else {
            return "index,value\n" + residues.enumerated().map { "\($0.offset),\($0.element)\n" }.joined()
        }
        return "index,value,residue\n"
            + zip(signed, residues).enumerated().map { "\($0.offset),\($0.element.0),\($0.element.1)\n" }.joined()
    }

    /// A residue modulo 2^bits read as signed: v ≥ 2^(bits−1) stands for v − 2^bits (SPEC §5.10).
    public static func signed(_ residue: UInt64, bits: Int) -> Int64 {
        guard bits < 64 else { return Int64(bitPattern: residue) }
        let modulus = UInt64(1) << UInt64(bits)
        let value = residue & (modulus - 1)
        return value >= modulus / 2 ? Int64(value) - Int64(modulus) : Int64(value)
    }

    /// The published form of a round the coordinator recorded.
    ///
    /// - Parameter finishedAt: when the round ended (now, as it is recorded; the store's time when republished).
    public init(_ record: RoundRecord, finishedAt: Date) {
        task = record.task
        roundID = "\(record.roundID)"
        outcome = record.abortReason == nil && record.sum != nil ? .completed : .aborted
        self.finishedAt = finishedAt
        let given = record.parameters
        parameters = Parameters(
            clients: Int(given.invitedCount), dimension: Int(given.dimension), bits: Int(given.bits),
            maximumInput: given.maximumInput, threshold: Int(given.threshold),
            minimumSurvivors: Int(given.minimumSurvivors), graph: "\(given.graph)",
            mode: given.mode == .active ? "active" : "honest")
        let released = record.sum != nil && record.abortReason == nil
        switch given.noise {
        case .none:
            noise = Noise(kind: .none)
        case let .central(variance):
            noise = Noise(
                kind: .central, variance: "\(variance.numerator)/\(variance.denominator)",
                sigma: released ? variance.value.squareRoot() : nil)
        case let .distributed(variance):
            noise = Noise(
                kind: .distributed, variance: "\(variance.numerator)/\(variance.denominator)",
                sigma: released ? (variance.value * Double(record.survivorIdentities.count)).squareRoot() : nil)
        }
        survivorIdentities = released ? record.survivorIdentities : []
        residues = released ? record.sum : nil
        abort = record.abortReason.map { Abort($0, phase: record.abortPhase) }
        func named<Value>(_ byPhase: [RoundPhase: Value]) -> [String: Value] {
            Dictionary(uniqueKeysWithValues: byPhase.map { ("\($0.key)", $0.value) })
        }
        phaseSeconds = named(record.phaseSeconds).mapValues(Self.milliseconds)
        phaseCounts = named(record.phaseCounts)
        droppedPerPhase = named(record.droppedPerPhase)
        wallSeconds = Self.milliseconds(record.wallSeconds)
        recovered = record.recovered
        encoder = record.encoder
    }

    /// Seconds to the millisecond, so a report says 0.015 rather than 0.014570752000000001.
    static func milliseconds(_ seconds: Double) -> Double {
        (seconds * 1000).rounded() / 1000
    }

    /// The JSON every writer uses: sorted keys, ISO 8601 times, one line (a result file may hold a million entries).
    public static func encoded(_ result: PublishedResult, pretty: Bool = false) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(result)
    }

    /// Reads a result as ``encoded(_:pretty:)`` wrote it.
    ///
    /// - Throws: `DecodingError` naming the field that is missing or malformed.
    public static func decoded(_ data: Data) throws -> PublishedResult {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(PublishedResult.self, from: data)
    }
}

extension PublishedResult.Noise {
    init(kind: Kind) {
        self.init(kind: kind, variance: nil, sigma: nil)
    }
}

extension PublishedResult: Codable {
    enum CodingKeys: String, CodingKey {
        case task, outcome, parameters, noise, sum, abort, recovered
        case roundID = "round_id"
        case finishedAt = "finished_at"
        case survivorCount = "survivor_count"
        case survivorIdentities = "survivor_identities"
        case residues = "sum_residues"
        case phaseSeconds = "phase_seconds"
        case phaseCounts = "phase_counts"
        case droppedPerPhase = "dropped_per_phase"
        case wallSeconds = "wall_seconds"
        case encoder, decoded
    }

    /// Writes `sum` as a person reads it and, when it is read as signed, `sum_residues` beside it; without noise the
    /// two are the same numbers and only `sum` is written.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(task, forKey: .task)
        try container.encode(roundID, forKey: .roundID)
        try container.encode(outcome, forKey: .outcome)
        try container.encode(finishedAt, forKey: .finishedAt)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(noise, forKey: .noise)
        try container.encode(survivorIdentities.count, forKey: .survivorCount)
        try container.encode(survivorIdentities, forKey: .survivorIdentities)
        if let residues {
            if isSigned {
                try container.encode(sum, forKey: .sum)
                try container.encode(residues, forKey: .residues)
            } else {
                try container.encode(residues, forKey: .sum)
            }
        }
        try container.encodeIfPresent(abort, forKey: .abort)
        try container.encode(phaseSeconds, forKey: .phaseSeconds)
        try container.encode(phaseCounts, forKey: .phaseCounts)
        try container.encode(droppedPerPhase, forKey: .droppedPerPhase)
        try container.encode(wallSeconds, forKey: .wallSeconds)
        if recovered { try container.encode(true, forKey: .recovered) }
        try container.encodeIfPresent(self.encoder, forKey: .encoder)
        try container.encodeIfPresent(decoded, forKey: .decoded)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        task = try container.decode(String.self, forKey: .task)
        roundID = try container.decode(String.self, forKey: .roundID)
        outcome = try container.decode(Outcome.self, forKey: .outcome)
        finishedAt = try container.decode(Date.self, forKey: .finishedAt)
        parameters = try container.decode(Parameters.self, forKey: .parameters)
        noise = try container.decode(Noise.self, forKey: .noise)
        survivorIdentities = try container.decode([String].self, forKey: .survivorIdentities)
        let bits = parameters.bits
        if noise.kind != .none {
            residues = try container.decodeIfPresent([UInt64].self, forKey: .residues)
            if let residues, let signed = try container.decodeIfPresent([Int64].self, forKey: .sum),
               signed != residues.map({ Self.signed($0, bits: bits) }) {
                throw DecodingError.dataCorruptedError(
                    forKey: .sum, in: container, debugDescription: "sum is not the signed reading of sum_residues")
            }
        } else {
            residues = try container.decodeIfPresent([UInt64].self, forKey: .sum)
        }
        abort = try container.decodeIfPresent(Abort.self, forKey: .abort)
        phaseSeconds = try container.decode([String: Double].self, forKey: .phaseSeconds)
        phaseCounts = try container.decode([String: Int].self, forKey: .phaseCounts)
        droppedPerPhase = try container.decode([String: Int].self, forKey: .droppedPerPhase)
        wallSeconds = try container.decode(Double.self, forKey: .wallSeconds)
        recovered = try container.decodeIfPresent(Bool.self, forKey: .recovered) ?? false
        encoder = try container.decodeIfPresent(RealVectorEncoding.self, forKey: .encoder)
    }
}
