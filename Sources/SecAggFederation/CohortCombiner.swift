#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

import SecAggCrypto
import SecAggMath
import SecAggWire

/// What a shard handed the root for a global round: its encoded signed release, or why there is none (the shard's
/// round aborted, the shard could not be reached, the deadline passed).
public enum CohortSubmission: Sendable, Equatable {
    case release([UInt8])
    case none(reason: String)
}

/// What the root expects of every cohort release in one global round: the round, the task as it defined it, and
/// the shards with the identity keys it pinned.
public struct GlobalRoundExpectation: Sendable {
    public var globalRound: GlobalRoundID
    public var taskName: String
    public var dimension: Int
    public var bits: Int
    public var lift: CohortRelease.Lift
    public var encoding: String
    /// What each client adds to every lane before masking, to be taken out before the centred lift: B for a real
    /// encoding (SPEC §5.11, each client sends z + B), 0 otherwise. A cohort's sum carries survivors × B.
    public var shiftPerSurvivor: UInt64
    /// Shard name → pinned identity key.
    public var shards: [String: Ed25519.VerifyingKey]

    public init(
        globalRound: GlobalRoundID, taskName: String, dimension: Int, bits: Int, lift: CohortRelease.Lift,
        encoding: String, shiftPerSurvivor: UInt64 = 0, shards: [String: Ed25519.VerifyingKey]
    ) {
        self.shiftPerSurvivor = shiftPerSurvivor
        self.globalRound = globalRound
        self.taskName = taskName
        self.dimension = dimension
        self.bits = bits
        self.lift = lift
        self.encoding = encoding
        self.shards = shards
    }
}

/// When a global round may release: at least this many cohorts, and this many clients across them.
public struct GlobalRoundPolicy: Sendable, Hashable {
    public var minimumCohorts: Int
    public var minimumClients: Int

    public init(minimumCohorts: Int, minimumClients: Int) {
        self.minimumCohorts = minimumCohorts
        self.minimumClients = minimumClients
    }
}

/// Why a cohort is not in the global sum. A cohort is excluded, never substituted.
public enum CohortExclusion: Error, Sendable, Equatable, CustomStringConvertible {
    /// The shard sent no release (its round aborted, it was unreachable, or the deadline passed).
    case noRelease(String)
    /// The bytes were not a release, or its signature did not verify under the key it names.
    case invalid(CohortReleaseError)
    /// A submission under a name the global round does not know.
    case unknownShard
    /// Signed by a key other than the one pinned for this shard.
    case wrongKey(Ed25519.VerifyingKey)
    /// A release of another global round: a replay, or a stale answer.
    case wrongGlobalRound(GlobalRoundID)
    /// Released for another task.
    case wrongTask(String)
    /// Dimension, bits, lift or encoding differ from the task the root defined.
    case parameterMismatch(String)
    /// The same shard round or shard key already contributed.
    case duplicate(String)

    public var description: String {
        switch self {
        case .noRelease(let reason): return "no release: \(reason)"
        case .invalid(let error): return "\(error)"
        case .unknownShard: return "not a shard of this global round"
        case .wrongKey(let key): return "signed by \(key), not the shard's pinned key"
        case .wrongGlobalRound(let round): return "released for global round \(round), not this one (a replay?)"
        case .wrongTask(let task): return "released for task '\(task)'"
        case .parameterMismatch(let detail): return "parameters differ from the task's: \(detail)"
        case .duplicate(let detail): return "duplicate: \(detail)"
        }
    }
}

/// The integer sum over the included cohorts, with what is known about its noise.
public struct GlobalSum: Sendable, Equatable {
    /// The exact integer sum of the cohorts' lifted sums, entry by entry.
    public enum Values: Sendable, Equatable {
        case unsigned([UInt64])
        case signed([Int64])
    }

    public var values: Values
    /// bits + ⌈log₂ cohorts⌉: the width in which the cohort sums add without wrapping.
    public var bits: Int
    /// Clients whose inputs are in the sum.
    public var survivors: Int
    /// The variance of the noise in each entry: the cohorts' central variances, plus each distributed cohort's
    /// per-client variance times its survivors.
    public var noiseVariance: Double
    /// √``noiseVariance``.
    public var noiseSigma: Double { noiseVariance.squareRoot() }
}

/// The combination of one global round: which cohorts are in, which are out and why, and the sum or the reason
/// there is none.
public struct GlobalRoundOutcome: Sendable {
    public struct Included: Sendable, Equatable {
        public var shard: String
        public var release: SignedCohortRelease
    }

    public var included: [Included]
    /// Shard name → why its cohort is not in the sum, sorted by name.
    public var excluded: [(shard: String, reason: CohortExclusion)]
    /// The global sum, or why the global round releases nothing.
    public var result: Result<GlobalSum, GlobalRoundFailure>
}

/// Why a global round releases nothing.
public enum GlobalRoundFailure: Error, Sendable, Equatable, CustomStringConvertible {
    case tooFewCohorts(included: Int, required: Int)
    case tooFewClients(included: Int, required: Int)
    /// bits + ⌈log₂ cohorts⌉ exceeds 64.
    case tooWide(bits: Int)

    public var description: String {
        switch self {
        case let .tooFewCohorts(included, required): return "\(included) cohort(s) included, \(required) required"
        case let .tooFewClients(included, required): return "\(included) client(s) included, \(required) required"
        case let .tooWide(bits): return "the combined sum needs \(bits) bits, more than 64"
        }
    }
}

/// Combines the cohort releases of one global round (FEDERATION.md §3): every release is checked against the
/// expectation — pinned key, global round, task, parameters, no duplicates — and the valid ones are lifted to
/// integers and added exactly; the policy then decides whether the global round releases. Pure: no I/O, no clock.
public enum CohortCombiner {
    /// - Parameters:
    ///   - submissions: Shard name → what it handed in.
    ///   - expectation: What every release must match.
    ///   - policy: The least cohorts and clients for a release.
    /// - Returns: The included and excluded cohorts and the result; never throws: a bad release is an exclusion.
    public static func combine(
        _ submissions: [String: CohortSubmission], expecting expectation: GlobalRoundExpectation,
        policy: GlobalRoundPolicy
    ) -> GlobalRoundOutcome {
        var included: [GlobalRoundOutcome.Included] = []
        var excluded: [(shard: String, reason: CohortExclusion)] = []
        var seenRounds: Set<RoundID> = []
        var seenKeys: Set<Ed25519.VerifyingKey> = []
        for (shard, submission) in submissions.sorted(by: { $0.key < $1.key }) {
            switch check(shard, submission, expectation) {
            case .failure(let reason):
                excluded.append((shard, reason))
            case .success(let signed):
                let release = signed.release
                if !seenRounds.insert(release.roundID).inserted {
                    excluded.append((shard, .duplicate("round \(release.roundID) was already included")))
                } else if !seenKeys.insert(release.shard).inserted {
                    excluded.append((shard, .duplicate("shard key \(release.shard) was already included")))
                } else {
                    included.append(.init(shard: shard, release: signed))
                }
            }
        }
        for shard in expectation.shards.keys.sorted() where submissions[shard] == nil {
            excluded.append((shard, .noRelease("nothing was submitted")))
        }
        excluded.sort { $0.shard < $1.shard }
        return GlobalRoundOutcome(
            included: included, excluded: excluded,
            result: add(included.map(\.release.release), expectation: expectation, policy: policy))
    }

    private static func check(
        _ shard: String, _ submission: CohortSubmission, _ expectation: GlobalRoundExpectation
    ) -> Result<SignedCohortRelease, CohortExclusion> {
        guard let pinned = expectation.shards[shard] else { return .failure(.unknownShard) }
        let bytes: [UInt8]
        switch submission {
        case .none(let reason): return .failure(.noRelease(reason))
        case .release(let received): bytes = received
        }
        let signed: SignedCohortRelease
        do {
            signed = try SignedCohortRelease(decoding: bytes, maximumDimension: expectation.dimension)
        } catch {
            return .failure(.invalid(error))
        }
        let release = signed.release
        guard release.shard == pinned else { return .failure(.wrongKey(release.shard)) }
        guard release.globalRound == expectation.globalRound else {
            return .failure(.wrongGlobalRound(release.globalRound))
        }
        guard release.taskName == expectation.taskName else { return .failure(.wrongTask(release.taskName)) }
        var differences: [String] = []
        if release.sum.count != expectation.dimension {
            differences.append("dimension \(release.sum.count), expected \(expectation.dimension)")
        }
        if release.sum.bits != expectation.bits { differences.append("bits \(release.sum.bits), expected \(expectation.bits)") }
        if release.lift != expectation.lift { differences.append("lift \(release.lift), expected \(expectation.lift)") }
        if release.encoding != expectation.encoding {
            differences.append("encoding '\(release.encoding)', expected '\(expectation.encoding)'")
        }
        guard differences.isEmpty else { return .failure(.parameterMismatch(differences.joined(separator: "; "))) }
        return .success(signed)
    }

    /// Lifts each cohort's residues and adds them in bits + ⌈log₂ C⌉, where they cannot wrap: unsigned lifts are
    /// below 2^bits each, so C of them stay below 2^(bits + ⌈log₂ C⌉); signed lifts are in [−2^(bits−1), 2^(bits−1)).
    private static func add(
        _ releases: [CohortRelease], expectation: GlobalRoundExpectation, policy: GlobalRoundPolicy
    ) -> Result<GlobalSum, GlobalRoundFailure> {
        let clients = releases.reduce(0) { $0 + Int($1.survivors) }
        guard releases.count >= max(1, policy.minimumCohorts) else {
            return .failure(.tooFewCohorts(included: releases.count, required: max(1, policy.minimumCohorts)))
        }
        guard clients >= policy.minimumClients else {
            return .failure(.tooFewClients(included: clients, required: policy.minimumClients))
        }
        let growth = releases.count <= 1 ? 0 : Int.bitWidth - (releases.count - 1).leadingZeroBitCount
        let width = expectation.bits + growth
        guard width <= 64 else { return .failure(.tooWide(bits: width)) }
        var variance = 0.0
        for release in releases where release.noise.kind != .none {
            let each = Double(release.noise.varianceNumerator) / Double(release.noise.varianceDenominator)
            variance += release.noise.kind == .central ? each : each * Double(release.survivors)
        }
        let values: GlobalSum.Values
        switch expectation.lift {
        case .unsigned:
            var sum = [UInt64](repeating: 0, count: expectation.dimension)
            for release in releases {
                for (index, value) in release.sum.values.enumerated() { sum[index] &+= value }
            }
            values = .unsigned(sum)
        case .signed:
            let half = UInt64(1) << UInt64(expectation.bits - 1)
            let mask = expectation.bits == 64 ? UInt64.max : (half << 1) - 1
            var sum = [Int64](repeating: 0, count: expectation.dimension)
            for release in releases {
                let offset = expectation.shiftPerSurvivor &* UInt64(release.survivors)
                for (index, residue) in release.sum.values.enumerated() {
                    // The shift out (modulo 2^bits), then the centred lift: r ≥ 2^(bits−1) stands for r − 2^bits.
                    let value = (residue &- offset) & mask
                    let lifted = value >= half ? Int64(bitPattern: value &- (half << 1)) : Int64(value)
                    sum[index] &+= lifted
                }
            }
            values = .signed(sum)
        }
        return .success(GlobalSum(values: values, bits: width, survivors: clients, noiseVariance: variance))
    }
}
